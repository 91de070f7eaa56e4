// Numbered channels multiplexed over one WebSocket, as the channel.k8s.io subprotocols frame
// them: each message starts with its channel number (a byte, or an ASCII digit with the
// payload base64-encoded in the base64 variants). v5 adds CLOSE: [255, n] ends channel n.
import { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { isBase64, supportsCloseSignal } from './protocols';

const CLOSE_SIGNAL = 255;
const NORMAL_CLOSURE = 1000;

/** One channel: readable if the client may send on it, writable if the server may. */
export class WsChannel extends Duplex {
  constructor(
    private readonly mux: WsChannelMux,
    readonly index: number,
  ) {
    super({ allowHalfOpen: true });
    // As with SPDY streams: a disconnect shows through the mux, not as an unhandled 'error'.
    this.on('error', () => undefined);
  }

  receive(data: Buffer): boolean {
    return this.readableEnded ? true : this.push(data);
  }

  override _read(): void {
    this.mux.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.mux.send(this.index, chunk, callback);
  }
}

export class WsChannelMux {
  private readonly channels = new Map<number, WsChannel>();
  private readonly base64: boolean;
  private readonly closeSignal: boolean;

  constructor(
    private readonly ws: WebSocket,
    protocol: string,
  ) {
    this.base64 = isBase64(protocol);
    this.closeSignal = supportsCloseSignal(protocol);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(toBuffer(data), isBinary));
    ws.on('close', () => {
      for (const channel of this.channels.values()) channel.destroy();
    });
    ws.on('error', () => undefined);
  }

  get isClosed(): boolean {
    return this.ws.readyState === this.ws.CLOSED || this.ws.readyState === this.ws.CLOSING;
  }

  channel(index: number): WsChannel {
    let channel = this.channels.get(index);
    if (!channel) {
      channel = new WsChannel(this, index);
      this.channels.set(index, channel);
    }
    return channel;
  }

  onClose(listener: () => void): void {
    if (this.ws.readyState === this.ws.CLOSED) listener();
    else this.ws.once('close', listener);
  }

  send(index: number, data: Buffer, callback: (error?: Error) => void): void {
    if (this.base64) this.ws.send(String.fromCharCode(0x30 + index) + data.toString('base64'), callback);
    else this.ws.send(Buffer.concat([Buffer.from([index]), data]), { binary: true }, callback);
  }

  resume(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  /** A normal closure, after every queued message. */
  close(): void {
    if (!this.isClosed) this.ws.close(NORMAL_CLOSURE);
  }

  private onMessage(message: Buffer, isBinary: boolean): void {
    if (message.length === 0) return;
    const index = this.base64 && !isBinary ? message[0] - 0x30 : message[0];
    if (index === CLOSE_SIGNAL && this.closeSignal) {
      if (message.length > 1) this.channels.get(message[1])?.push(null);
      return;
    }
    const channel = this.channels.get(index);
    if (!channel) return;
    const payload = this.base64 && !isBinary ? Buffer.from(message.subarray(1).toString('latin1'), 'base64') : message.subarray(1);
    if (!channel.receive(payload)) this.ws.pause();
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
