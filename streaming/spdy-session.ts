// One SPDY/3.1 session over an upgraded connection: frames in and out, each stream a Duplex.
// The Go peer (moby/spdystream) never sends WINDOW_UPDATE and ignores ours, so flow control
// is the TCP socket's: a full socket holds back our writers, a stream nobody reads pauses the
// socket.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { InvalidArgumentError, errorMessage } from '../system/errors';
import type { Logger } from '../system/logger';
import { HeaderCompressor, HeaderDecompressor } from './spdy-header-codec';
import {
  ControlType,
  FLAG_FIN,
  FrameParser,
  MAX_DATA_LENGTH,
  ResetStatus,
  SPDY_VERSION,
  encodeData,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  type RawFrame,
  type SpdyHeaders,
} from './spdy-frames';

/** How long a closing session waits for the peer to hang up before cutting the connection. */
const CLOSE_TIMEOUT_MS = 5000;
const GOAWAY_OK = 0;
const GOAWAY_PROTOCOL_ERROR = 1;

export type SessionRole = 'server' | 'client';

/** One SPDY stream: what the peer sends is readable, what is written goes to the peer. */
export class SpdyStream extends Duplex {
  private localFin = false;
  private remoteFin = false;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: SpdyHeaders,
  ) {
    super({ allowHalfOpen: true });
    // Failures reach users through the session's close and the exec's abort signal; a write
    // racing a disconnect must not crash the daemon with an unhandled 'error'.
    this.on('error', () => undefined);
  }

  /** Called by the session for each DATA frame; false asks it to stop reading the socket. */
  receive(data: Buffer, fin: boolean): boolean {
    let more = true;
    if (data.length > 0 && !this.remoteFin) more = this.push(data);
    if (fin) this.finishRemote();
    return more;
  }

  finishRemote(): void {
    if (this.remoteFin) return;
    this.remoteFin = true;
    this.push(null);
    this.forgetIfDone();
  }

  /** The peer reset the stream. */
  abort(): void {
    this.remoteFin = true;
    this.localFin = true;
    this.destroy();
  }

  /** The connection is gone: what already arrived stays readable, then the stream closes. */
  disconnect(): void {
    this.localFin = true;
    if (!this.remoteFin) {
      this.remoteFin = true;
      this.push(null);
    }
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  override _read(): void {
    this.session.resumeFor(this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.session.sendData(this.id, chunk, false, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.localFin = true;
    this.session.sendData(this.id, Buffer.alloc(0), true, callback);
    this.forgetIfDone();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.localFin || !this.remoteFin) this.session.reset(this.id, ResetStatus.Cancel);
    this.session.forget(this.id);
    callback(error);
  }

  private forgetIfDone(): void {
    if (this.localFin && this.remoteFin) this.session.forget(this.id);
  }
}

interface Outbound {
  frame: Buffer | Promise<Buffer>;
  done?: (error?: Error | null) => void;
}

interface PendingOpen {
  resolve: (stream: SpdyStream) => void;
  reject: (error: Error) => void;
  stream: SpdyStream;
}

export interface SpdySessionEvents {
  stream: [SpdyStream];
  close: [];
}

export class SpdySession extends EventEmitter<SpdySessionEvents> {
  private readonly parser = new FrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly pendingOpens = new Map<number, PendingOpen>();
  private readonly blocked = new Set<SpdyStream>();
  private readonly outbound: Outbound[] = [];
  private inbound: Promise<void> = Promise.resolve();
  private pumping = false;
  private nextStreamId: number;
  private lastReceivedId = 0;
  private goingAway = false;
  private closed = false;

  constructor(
    private readonly socket: Duplex,
    private readonly role: SessionRole,
    private readonly logger?: Logger,
  ) {
    super();
    this.nextStreamId = role === 'client' ? 1 : 2;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => this.logger?.debug('streaming connection failed', { error: error.message }));
    // Frames already read are handled before the streams learn that the connection is gone.
    socket.on('close', () => void this.inbound.then(() => this.shutdown()));
    socket.on('end', () => socket.end());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Opens a stream (client side) and resolves once the peer replied. */
  openStream(headers: SpdyHeaders): Promise<SpdyStream> {
    if (this.closed || this.goingAway) return Promise.reject(new InvalidArgumentError('SPDY session is closed'));
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers);
    this.streams.set(id, stream);
    return new Promise((resolve, reject) => {
      this.pendingOpens.set(id, { resolve, reject, stream });
      this.send(this.compressor.compress(headers).then((block) => encodeSynStream(id, block, false)));
    });
  }

  /** Says GOAWAY, lets queued frames out, then hangs up. */
  close(): void {
    if (this.closed) return;
    if (!this.goingAway) {
      this.goingAway = true;
      this.send(encodeGoAway(this.lastReceivedId, GOAWAY_OK));
    }
    this.send(Buffer.alloc(0), () => {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS).unref();
    });
  }

  /** Cuts the connection at once. */
  destroy(): void {
    this.socket.destroy();
    this.shutdown();
  }

  sendData(streamId: number, data: Buffer, fin: boolean, done: (error?: Error | null) => void): void {
    if (this.closed) {
      done(new InvalidArgumentError('SPDY session is closed'));
      return;
    }
    let offset = 0;
    for (; data.length - offset > MAX_DATA_LENGTH; offset += MAX_DATA_LENGTH) {
      this.send(encodeData(streamId, data.subarray(offset, offset + MAX_DATA_LENGTH), false));
    }
    this.send(encodeData(streamId, data.subarray(offset), fin), done);
  }

  reset(streamId: number, status: ResetStatus): void {
    if (!this.closed) this.send(encodeRstStream(streamId, status));
  }

  forget(streamId: number): void {
    const stream = this.streams.get(streamId);
    if (stream) this.blocked.delete(stream);
    this.streams.delete(streamId);
    this.resumeIfUnblocked();
  }

  /** A stream's reader wants more: read the socket again unless another stream is full. */
  resumeFor(stream: SpdyStream): void {
    this.blocked.delete(stream);
    this.resumeIfUnblocked();
  }

  private resumeIfUnblocked(): void {
    if (this.blocked.size === 0 && this.socket.isPaused()) this.socket.resume();
  }

  private send(frame: Buffer | Promise<Buffer>, done?: (error?: Error | null) => void): void {
    this.outbound.push({ frame, done });
    void this.pump();
  }

  // Frames leave in the order they were queued (a header block may still be compressing),
  // and the next one waits while the socket's buffer is full.
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    while (this.outbound.length > 0) {
      const item = this.outbound[0];
      let frame: Buffer;
      try {
        frame = item.frame instanceof Buffer ? item.frame : await item.frame;
      } catch (error) {
        this.logger?.warn('SPDY header compression failed', { error: errorMessage(error) });
        this.destroy();
        break;
      }
      this.outbound.shift();
      if (this.closed || this.socket.destroyed) {
        item.done?.(new InvalidArgumentError('SPDY session is closed'));
        continue;
      }
      if (frame.length > 0 && !this.socket.write(frame)) await this.drained();
      item.done?.();
    }
    this.pumping = false;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        this.socket.off('drain', finish);
        this.socket.off('close', finish);
        resolve();
      };
      this.socket.on('drain', finish);
      this.socket.on('close', finish);
    });
  }

  private onData(chunk: Buffer): void {
    let frames: RawFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (error) {
      this.protocolError(errorMessage(error));
      return;
    }
    for (const frame of frames) {
      this.inbound = this.inbound.then(() => this.handle(frame)).catch((error: unknown) => this.protocolError(errorMessage(error)));
    }
  }

  private protocolError(message: string): void {
    if (this.closed) return;
    this.logger?.debug('SPDY protocol error', { error: message });
    this.goingAway = true;
    this.send(encodeGoAway(this.lastReceivedId, GOAWAY_PROTOCOL_ERROR));
    this.close();
  }

  private async handle(frame: RawFrame): Promise<void> {
    if (this.closed) return;
    if (!frame.control) {
      this.handleData(frame.streamId, frame.payload, (frame.flags & FLAG_FIN) !== 0);
      return;
    }
    if (frame.version !== SPDY_VERSION) throw new InvalidArgumentError(`unsupported SPDY version ${frame.version}`);
    const payload = frame.payload;
    const fin = (frame.flags & FLAG_FIN) !== 0;
    switch (frame.type) {
      case ControlType.SynStream:
        await this.handleSynStream(payload.readUInt32BE(0) & 0x7fffffff, await this.decompressor.decompress(payload.subarray(10)), fin);
        break;
      case ControlType.SynReply:
        this.handleSynReply(payload.readUInt32BE(0) & 0x7fffffff, await this.decompressor.decompress(payload.subarray(4)), fin);
        break;
      case ControlType.Headers:
        // Extra headers mean nothing to exec or port-forward, but they share the zlib history.
        await this.decompressor.decompress(payload.subarray(4));
        if (fin) this.streams.get(payload.readUInt32BE(0) & 0x7fffffff)?.finishRemote();
        break;
      case ControlType.RstStream:
        this.handleReset(payload.readUInt32BE(0) & 0x7fffffff);
        break;
      case ControlType.Ping:
        this.handlePing(payload.readUInt32BE(0));
        break;
      case ControlType.GoAway:
        this.goingAway = true;
        break;
      default:
        // SETTINGS, WINDOW_UPDATE and anything newer: nothing here depends on them.
        break;
    }
  }

  private handleData(streamId: number, data: Buffer, fin: boolean): void {
    const stream = this.streams.get(streamId);
    if (!stream) return;
    if (!stream.receive(data, fin)) {
      this.blocked.add(stream);
      this.socket.pause();
    }
  }

  private async handleSynStream(id: number, headers: SpdyHeaders, fin: boolean): Promise<void> {
    const expectedParity = this.role === 'server' ? 1 : 0;
    if (id % 2 !== expectedParity || id <= this.lastReceivedId) {
      this.reset(id, ResetStatus.ProtocolError);
      return;
    }
    this.lastReceivedId = id;
    if (this.goingAway) {
      this.reset(id, ResetStatus.RefusedStream);
      return;
    }
    const stream = new SpdyStream(this, id, headers);
    this.streams.set(id, stream);
    // The reply is queued before anything the handler writes, as the peer drops data on a
    // stream it has no reply for.
    this.send(this.compressor.compress({}).then((block) => encodeSynReply(id, block, false)));
    if (fin) stream.finishRemote();
    this.emit('stream', stream);
  }

  private handleSynReply(id: number, _headers: SpdyHeaders, fin: boolean): void {
    const pending = this.pendingOpens.get(id);
    if (!pending) return;
    this.pendingOpens.delete(id);
    pending.resolve(pending.stream);
    if (fin) pending.stream.finishRemote();
  }

  private handleReset(id: number): void {
    const pending = this.pendingOpens.get(id);
    if (pending) {
      this.pendingOpens.delete(id);
      pending.reject(new InvalidArgumentError(`SPDY stream ${id} was refused`));
    }
    const stream = this.streams.get(id);
    this.streams.delete(id);
    stream?.abort();
  }

  private handlePing(id: number): void {
    const ours = this.role === 'server' ? 0 : 1;
    if (id % 2 !== ours) this.send(encodePing(id));
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.pendingOpens.values()) pending.reject(new InvalidArgumentError('SPDY session closed'));
    this.pendingOpens.clear();
    for (const stream of [...this.streams.values()]) stream.disconnect();
    this.streams.clear();
    for (const item of this.outbound.splice(0)) item.done?.(new InvalidArgumentError('SPDY session is closed'));
    this.compressor.close();
    this.decompressor.close();
    this.emit('close');
  }
}
