// A WebSocket streaming client: channel-numbered messages, binary or base64.
import WebSocket from 'ws';

export interface ChannelMessage {
  channel: number;
  data: Buffer;
}

export interface WsSession {
  ws: WebSocket;
  protocol: string;
  send(channel: number, data: Buffer | string): void;
  /** Every message until the server closes the connection. */
  messages: Promise<ChannelMessage[]>;
}

export function connectWs(url: string, protocols: string[]): Promise<WsSession> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols, { rejectUnauthorized: false });
  const received: ChannelMessage[] = [];
  const messages = new Promise<ChannelMessage[]>((resolve) => ws.on('close', () => resolve(received)));
  return new Promise((resolve, reject) => {
    ws.on('message', (raw: WebSocket.RawData, isBinary: boolean) => {
      const message = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as ArrayBuffer);
      if (isBinary) received.push({ channel: message[0], data: message.subarray(1) });
      else received.push({ channel: message[0] - 0x30, data: Buffer.from(message.subarray(1).toString(), 'base64') });
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () => {
      const base64 = ws.protocol.includes('base64');
      resolve({
        ws,
        protocol: ws.protocol,
        messages,
        send: (channel, data) => {
          const bytes = Buffer.from(data);
          if (base64) ws.send(String.fromCharCode(0x30 + channel) + bytes.toString('base64'));
          else ws.send(Buffer.concat([Buffer.from([channel]), bytes]));
        },
      });
    });
  });
}

/** The bytes of one channel, in order. */
export function channelText(messages: ChannelMessage[], channel: number): string {
  return Buffer.concat(messages.filter((message) => message.channel === channel).map((message) => message.data)).toString();
}
