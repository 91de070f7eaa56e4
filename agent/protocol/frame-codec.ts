import { Frame } from '../../proto/gen/agent';
import { crc32 } from './crc32';

// Every frame starts with this, so a reader that joins mid-stream (the host reconnecting after
// a daemon restart) finds the next frame boundary.
export const FRAME_MAGIC = Buffer.from('PVA1', 'latin1');
const LENGTH_AT = FRAME_MAGIC.length;
const CHECKSUM_AT = LENGTH_AT + 4;
const HEADER_BYTES = CHECKSUM_AT + 4;
// A container's output travels in chunks far below this; anything larger is a broken stream.
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/**
 * The magic, the body's length and CRC-32 (each 32-bit big-endian), and the protobuf Frame. The
 * checksum tells a frame cut short by a reconnect, and whatever follows it, from a whole one.
 */
export function encodeFrame(frame: Frame): Buffer {
  const body = Frame.encode(frame).finish();
  if (body.length > MAX_FRAME_BYTES) throw new RangeError(`frame of ${body.length} bytes is over the ${MAX_FRAME_BYTES}-byte limit`);
  const header = Buffer.alloc(HEADER_BYTES);
  FRAME_MAGIC.copy(header);
  header.writeUInt32BE(body.length, LENGTH_AT);
  header.writeUInt32BE(crc32(body), CHECKSUM_AT);
  return Buffer.concat([header, body]);
}

/**
 * Turns a byte stream back into frames, whatever the chunking. Bytes that are not a frame
 * (garbage, a frame cut short by a reconnect, an oversized or undecodable one) are skipped up
 * to the next magic and counted in `skippedBytes`.
 */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  skippedBytes = 0;

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const start = this.buffer.indexOf(FRAME_MAGIC);
      if (start < 0) {
        // Keep a tail that may be the start of a magic split across chunks.
        this.skip(Math.max(0, this.buffer.length - (FRAME_MAGIC.length - 1)));
        return frames;
      }
      this.skip(start);
      if (this.buffer.length < HEADER_BYTES) return frames;
      const length = this.buffer.readUInt32BE(LENGTH_AT);
      if (length > MAX_FRAME_BYTES) {
        this.skip(1);
        continue;
      }
      if (this.buffer.length < HEADER_BYTES + length) return frames;
      const body = this.buffer.subarray(HEADER_BYTES, HEADER_BYTES + length);
      if (crc32(body) !== this.buffer.readUInt32BE(CHECKSUM_AT)) {
        this.skip(1);
        continue;
      }
      try {
        frames.push(Frame.decode(body));
        this.buffer = this.buffer.subarray(HEADER_BYTES + length);
      } catch {
        this.skip(1);
      }
    }
  }

  private skip(bytes: number): void {
    if (bytes === 0) return;
    this.skippedBytes += bytes;
    this.buffer = this.buffer.subarray(bytes);
  }
}
