// A streaming client speaking the kubelet's and crictl's protocol (as client-go and
// moby/spdystream do): upgrade to SPDY/3.1, offer protocols, open one stream per channel in
// client-go's order, each waiting for its reply.
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { SpdySession, type SpdyStream } from '../../streaming/spdy-session';

const UPGRADE_TIMEOUT_MS = 10_000;

export type Upgrade =
  | { upgraded: true; session: SpdySession; socket: Socket; protocol: string }
  | { upgraded: false; status: number; headers: IncomingHttpHeaders; body: string };

/** Asks `url` for SPDY/3.1, offering `protocols` in order. */
export function upgradeSpdy(url: string, protocols: string[]): Promise<Upgrade> {
  const target = new URL(url);
  const module = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = module.request(target, {
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
      rejectUnauthorized: false,
      timeout: UPGRADE_TIMEOUT_MS,
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      if (head.length > 0) socket.unshift(head);
      const protocol = String(res.headers['x-stream-protocol-version'] ?? '');
      resolve({ upgraded: true, session: new SpdySession(socket, 'client'), socket, protocol });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ upgraded: false, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`upgrade of ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function upgradeOrFail(url: string, protocols: string[]): Promise<Extract<Upgrade, { upgraded: true }>> {
  const upgrade = await upgradeSpdy(url, protocols);
  if (!upgrade.upgraded) throw new Error(`upgrade refused: ${upgrade.status} ${upgrade.body}`);
  return upgrade;
}

export interface ExecStreams {
  error: SpdyStream;
  stdin?: SpdyStream;
  stdout?: SpdyStream;
  stderr?: SpdyStream;
  resize?: SpdyStream;
}

/** Opens the streams client-go opens for these options, in its order. */
export async function openExecStreams(session: SpdySession, options: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): Promise<ExecStreams> {
  const open = (type: string): Promise<SpdyStream> => session.openStream({ streamtype: [type] });
  const streams: ExecStreams = { error: await open('error') };
  if (options.stdin) streams.stdin = await open('stdin');
  if (options.stdout) streams.stdout = await open('stdout');
  if (options.stderr && !options.tty) streams.stderr = await open('stderr');
  if (options.tty) streams.resize = await open('resize');
  return streams;
}

/** Everything a stream carries until its end. Unlike for-await, leaves the stream's writable side open. */
export function readAll(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.once('close', () => reject(new Error('stream closed before its end')));
  });
}
