// SPDY/3.1 frame layout: parsing a byte stream into frames and encoding the frames the server
// sends. Header blocks stay compressed here; spdy-header-codec.ts owns the zlib contexts.
import { InvalidArgumentError } from '../system/errors';

export const SPDY_VERSION = 3;
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
/** The largest DATA payload the 24-bit length field allows. */
export const MAX_DATA_LENGTH = 0xffffff;

export const enum ControlType {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
}

/** RST_STREAM status codes (SPDY/3 section 2.6.3). */
export const enum ResetStatus {
  ProtocolError = 1,
  InvalidStream = 2,
  RefusedStream = 3,
  Cancel = 5,
  InternalError = 6,
}

export type SpdyHeaders = Record<string, string[]>;

export type RawFrame =
  | { control: false; streamId: number; flags: number; payload: Buffer }
  | { control: true; version: number; type: number; flags: number; payload: Buffer };

const FRAME_HEADER = 8;
/** A control frame longer than this is a protocol error rather than something to buffer. */
const MAX_CONTROL_LENGTH = 16 * 1024 * 1024;

/** Cuts a byte stream into frames; bytes of an unfinished frame wait for the next chunk. */
export class FrameParser {
  private pending: Buffer[] = [];
  private pendingLength = 0;

  push(chunk: Buffer): RawFrame[] {
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    if (this.pendingLength < FRAME_HEADER) return [];
    let buffer = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLength);
    const frames: RawFrame[] = [];
    let offset = 0;
    while (buffer.length - offset >= FRAME_HEADER) {
      const first = buffer.readUInt32BE(offset);
      const flagsAndLength = buffer.readUInt32BE(offset + 4);
      const length = flagsAndLength & 0xffffff;
      const flags = flagsAndLength >>> 24;
      const control = (first & 0x80000000) !== 0;
      if (control && length > MAX_CONTROL_LENGTH) throw new InvalidArgumentError(`SPDY control frame of ${length} bytes`);
      if (buffer.length - offset < FRAME_HEADER + length) break;
      const payload = buffer.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length);
      frames.push(
        control
          ? { control, version: (first >>> 16) & 0x7fff, type: first & 0xffff, flags, payload }
          : { control, streamId: first & 0x7fffffff, flags, payload },
      );
      offset += FRAME_HEADER + length;
    }
    buffer = buffer.subarray(offset);
    // Keep a copy of the tail only, so a large chunk is not pinned by its last few bytes.
    this.pending = buffer.length > 0 ? [Buffer.from(buffer)] : [];
    this.pendingLength = buffer.length;
    return frames;
  }
}

function controlFrame(type: ControlType, flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER);
  header.writeUInt32BE((0x8000 | SPDY_VERSION) * 0x10000 + type, 0);
  header.writeUInt32BE(flags * 0x1000000 + payload.length, 4);
  return Buffer.concat([header, payload]);
}

function words(...values: number[]): Buffer {
  const buffer = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => buffer.writeUInt32BE(value >>> 0, index * 4));
  return buffer;
}

export function encodeData(streamId: number, data: Buffer, fin: boolean): Buffer {
  const header = words(streamId & 0x7fffffff, (fin ? FLAG_FIN : 0) * 0x1000000 + data.length);
  return data.length === 0 ? header : Buffer.concat([header, data]);
}

export function encodeSynStream(streamId: number, headerBlock: Buffer, fin: boolean): Buffer {
  // Associated-to stream 0, priority 0, slot 0.
  return controlFrame(ControlType.SynStream, fin ? FLAG_FIN : 0, Buffer.concat([words(streamId, 0), Buffer.alloc(2), headerBlock]));
}

export function encodeSynReply(streamId: number, headerBlock: Buffer, fin: boolean): Buffer {
  return controlFrame(ControlType.SynReply, fin ? FLAG_FIN : 0, Buffer.concat([words(streamId), headerBlock]));
}

export function encodeRstStream(streamId: number, status: ResetStatus): Buffer {
  return controlFrame(ControlType.RstStream, 0, words(streamId, status));
}

export function encodePing(id: number): Buffer {
  return controlFrame(ControlType.Ping, 0, words(id));
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  return controlFrame(ControlType.GoAway, 0, words(lastGoodStreamId, status));
}

/** The uncompressed name/value block: counts and lengths are 32-bit, values NUL-joined. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [words(entries.length)];
  for (const [name, values] of entries) {
    const nameBytes = Buffer.from(name.toLowerCase(), 'utf8');
    const valueBytes = Buffer.from(values.join('\0'), 'utf8');
    parts.push(words(nameBytes.length), nameBytes, words(valueBytes.length), valueBytes);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  let offset = 0;
  const read = (length: number): Buffer => {
    if (offset + length > block.length) throw new InvalidArgumentError('SPDY header block is truncated');
    const slice = block.subarray(offset, offset + length);
    offset += length;
    return slice;
  };
  const count = read(4).readUInt32BE(0);
  const headers: SpdyHeaders = {};
  for (let index = 0; index < count; index++) {
    const name = read(read(4).readUInt32BE(0)).toString('utf8').toLowerCase();
    const value = read(read(4).readUInt32BE(0)).toString('utf8');
    headers[name] = [...(headers[name] ?? []), ...value.split('\0')];
  }
  return headers;
}

/** The first value of a header, or undefined. */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers[name]?.[0];
}
