// grpc-go clients that dial a unix socket by path (crictl and critest up to at least v1.26,
// older kubelets, CSI sidecars) send that path as the HTTP/2 :authority. Node's HTTP/2 layer
// (nghttp2) holds "/" to be invalid there and resets every such stream with PROTOCOL_ERROR,
// and offers no switch to relax it. So podvisord reads each connection's first request
// headers itself: a valid authority leaves the connection untouched; a path authority makes us
// decode every header block the client sends and re-encode it, with :authority "localhost",
// as plain literals, so the server's HPACK table and the client's never have to agree.
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import hpack from 'hpack.js';

const PREFACE_LENGTH = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
const FRAME_HEADER_LENGTH = 9;
const TYPE_HEADERS = 0x1;
const TYPE_SETTINGS = 0x4;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
// The smallest frame size HTTP/2 allows every peer; Node's server accepts at least this.
const MAX_FRAME_PAYLOAD = 16384;
// Node's server advertises the default HPACK table size, so the client's encoder uses it too.
const HEADER_TABLE_SIZE = 4096;
// Characters RFC 3986 allows in an authority, as nghttp2 checks them.
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;
const REPLACEMENT_AUTHORITY = 'localhost';

interface Field {
  name: string;
  value: string;
}

function encodeInteger(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const bytes = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

function encodeString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([Buffer.from(encodeInteger(bytes.length, 7, 0)), bytes]);
}

/** Every field as "literal without indexing, new name": nothing enters the peer's table. */
function encodeBlock(fields: Field[]): Buffer {
  return Buffer.concat(fields.flatMap((field) => [Buffer.from([0]), encodeString(field.name), encodeString(field.value)]));
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_LENGTH);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** A HEADERS frame and as many CONTINUATION frames as the block needs. */
function headerFrames(streamId: number, endStream: boolean, block: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let offset = 0; offset === 0 || offset < block.length; offset += MAX_FRAME_PAYLOAD) {
    const chunk = block.subarray(offset, offset + MAX_FRAME_PAYLOAD);
    const last = offset + MAX_FRAME_PAYLOAD >= block.length;
    const flags = (last ? FLAG_END_HEADERS : 0) | (offset === 0 && endStream ? FLAG_END_STREAM : 0);
    frames.push(frame(offset === 0 ? TYPE_HEADERS : TYPE_CONTINUATION, flags, streamId, chunk));
  }
  return frames;
}

/** The header block fragment of a HEADERS frame, without padding and priority fields. */
function headersFragment(flags: number, payload: Buffer): Buffer {
  let start = 0;
  let end = payload.length;
  if (flags & FLAG_PADDED) {
    end -= payload[0];
    start += 1;
  }
  if (flags & FLAG_PRIORITY) start += 5;
  if (start > end) throw new Error('HEADERS frame padding exceeds its payload');
  return payload.subarray(start, end);
}

export class HeaderBlockError extends Error {}

/** An empty SETTINGS frame: all a server's connection preface has to be. */
export const EMPTY_SETTINGS = frame(TYPE_SETTINGS, 0, 0, Buffer.alloc(0));

export interface RewriterOptions {
  /**
   * Drop the client's first SETTINGS ACK: it acknowledges an EMPTY_SETTINGS sent on the
   * server's behalf, which the server itself never sent and would not expect an ACK for.
   */
  swallowSettingsAck?: boolean;
}

/**
 * Follows the client-to-server byte stream of one HTTP/2 connection and returns what the
 * server should receive instead.
 */
export class AuthorityRewriter {
  private mode: 'undecided' | 'passthrough' | 'rewrite' = 'undecided';
  private pending: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private readonly decompressor = hpack.decompressor.create({ table: { maxSize: HEADER_TABLE_SIZE } });
  // The header block being gathered: its raw frames, its fragments, and its HEADERS frame's stream and flags.
  private blockFrames: Buffer[] = [];
  private blockFragments: Buffer[] = [];
  private blockStream = 0;
  private blockFlags = 0;
  private ackToSwallow: boolean;

  constructor(options: RewriterOptions = {}) {
    this.ackToSwallow = options.swallowSettingsAck ?? false;
  }

  get rewriting(): boolean {
    return this.mode === 'rewrite';
  }

  /** Everything from now on passes unchanged: the connection needs no rewriter any more. */
  get passingThrough(): boolean {
    return this.mode === 'passthrough' && !this.ackToSwallow;
  }

  feed(chunk: Buffer): Buffer[] {
    if (this.passingThrough) return [chunk];
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    if (!this.prefaceSeen) {
      if (this.pending.length < PREFACE_LENGTH) return out;
      out.push(this.pending.subarray(0, PREFACE_LENGTH));
      this.pending = this.pending.subarray(PREFACE_LENGTH);
      this.prefaceSeen = true;
    }
    while (this.pending.length >= FRAME_HEADER_LENGTH) {
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < FRAME_HEADER_LENGTH + length) break;
      const raw = this.pending.subarray(0, FRAME_HEADER_LENGTH + length);
      this.pending = this.pending.subarray(raw.length);
      out.push(...this.onFrame(raw));
      // A getter, not an inline test, because onFrame may change the mode mid-loop.
      if (this.passingThrough) {
        if (this.pending.length > 0) out.push(this.pending);
        this.pending = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  private onFrame(raw: Buffer): Buffer[] {
    const type = raw[3];
    const flags = raw[4];
    const payload = raw.subarray(FRAME_HEADER_LENGTH);
    if (type === TYPE_SETTINGS && flags & FLAG_ACK && this.ackToSwallow) {
      this.ackToSwallow = false;
      return [];
    }
    // Once passing through, header blocks must reach the server as the client encoded them.
    if (this.mode === 'passthrough') return [raw];
    if (type === TYPE_HEADERS) {
      this.blockStream = raw.readUInt32BE(5) & 0x7fffffff;
      this.blockFlags = flags;
      this.blockFrames = [raw];
      this.blockFragments = [headersFragment(flags, payload)];
    } else if (type === TYPE_CONTINUATION) {
      this.blockFrames.push(raw);
      this.blockFragments.push(payload);
    } else {
      return [raw];
    }
    return flags & FLAG_END_HEADERS ? this.onHeaderBlock() : [];
  }

  private decode(block: Buffer): Field[] {
    this.decompressor.write(block);
    // Without a callback a decoding error is emitted with no listener, i.e. thrown from here.
    this.decompressor.execute();
    const fields: Field[] = [];
    for (let field = this.decompressor.read(); field !== null; field = this.decompressor.read()) {
      fields.push({ name: field.name, value: field.value });
    }
    return fields;
  }

  private onHeaderBlock(): Buffer[] {
    let fields: Field[];
    try {
      fields = this.decode(Buffer.concat(this.blockFragments));
    } catch (error) {
      throw new HeaderBlockError(`undecodable header block on stream ${this.blockStream}: ${(error as Error).message}`);
    }
    if (this.mode === 'undecided') {
      const authority = fields.find((field) => field.name === ':authority');
      if (authority === undefined || VALID_AUTHORITY.test(authority.value)) {
        this.mode = 'passthrough';
        return this.blockFrames;
      }
      this.mode = 'rewrite';
    }
    const rewritten = fields.map((field) =>
      field.name === ':authority' && !VALID_AUTHORITY.test(field.value) ? { name: field.name, value: REPLACEMENT_AUTHORITY } : field,
    );
    return headerFrames(this.blockStream, (this.blockFlags & FLAG_END_STREAM) !== 0, encodeBlock(rewritten));
  }
}

/**
 * A client connection as the HTTP/2 server sees it: what the client sends passes through an
 * AuthorityRewriter, what the server sends goes to the client unchanged.
 */
export class RewrittenConnection extends Duplex {
  /** `received`: what `rewriter` already made of the client's first bytes. */
  constructor(
    private readonly socket: Socket,
    private readonly rewriter = new AuthorityRewriter(),
    received: Buffer[] = [],
  ) {
    super();
    for (const buffer of received) this.push(buffer);
    socket.on('data', (chunk: Buffer) => {
      let buffers: Buffer[];
      try {
        buffers = this.rewriter.feed(chunk);
      } catch (error) {
        this.destroy(error as Error);
        return;
      }
      for (const buffer of buffers) if (!this.push(buffer)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
