import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { createServer, type AddressInfo } from 'node:net';

// Plain HTTP plumbing for the tests and the bench, kept apart from the client under test so
// that a bug there cannot hide in the setup.

const REQUEST_TIMEOUT_MS = 10_000;

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** One request to a local server (TLS certificates are not checked), with its whole answer. */
export function request(url: string, init: RequestInit = {}): Promise<Answer> {
  const target = new URL(url);
  const module = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = module.request(target, { method: init.method ?? 'GET', headers: init.headers, timeout: REQUEST_TIMEOUT_MS, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${init.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `server` on a free 127.0.0.1 port and answers its host:port. */
export function listenLocal(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

/** Stops `server`, cutting open keep-alive connections so that it does not linger. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Relays `req` to the HTTP server at `backend` (host:port) and streams its answer back. */
export function forward(req: IncomingMessage, res: ServerResponse, backend: string, dropHeaders: string[] = []): void {
  const headers = { ...req.headers };
  delete headers.host;
  for (const name of dropHeaders) delete headers[name];
  const upstream = http.request(`http://${backend}${req.url ?? '/'}`, { method: req.method, headers, timeout: REQUEST_TIMEOUT_MS }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('timeout', () => upstream.destroy(new Error(`${backend} timed out`)));
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}
