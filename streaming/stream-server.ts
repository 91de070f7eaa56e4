// The server Exec, Attach and PortForward URLs point at. Each URL carries a single-use token
// standing for one request the CRI server issued; the client upgrades the connection to
// SPDY/3.1 (kubelet, crictl) or WebSocket, and the request's callback does the work.
import { readFile } from 'node:fs/promises';
import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { InvalidArgumentError, errorMessage } from '../system/errors';
import type { Logger } from '../system/logger';
import { parsePort } from './forwarded-connection';
import {
  SPDY_PORT_FORWARD_PROTOCOLS,
  SPDY_REMOTE_COMMAND_PROTOCOLS,
  WS_PORT_FORWARD_PROTOCOLS,
  WS_REMOTE_COMMAND_PROTOCOLS,
  negotiate,
} from './protocols';
import { serveSpdyPortForward } from './spdy-port-forward';
import { serveSpdyRemoteCommand } from './spdy-remote-command';
import { SpdySession } from './spdy-session';
import type { StreamRequest } from './stream-request';
import { TOKEN_TTL_MS, TokenStore } from './token-store';
import { WsChannelMux } from './ws-channels';
import { serveWsPortForward } from './ws-port-forward';
import { serveWsRemoteCommand } from './ws-remote-command';

/** How long a client has, once upgraded, to open the streams its request promised. */
const STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface StreamServerOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  /** PEM files; both or neither (plain HTTP). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tokenTtlMs?: number;
  streamCreationTimeoutMs?: number;
  /** The clock tokens expire by (tests move it). */
  now?: () => number;
}

interface Route {
  kind: StreamRequest['kind'];
  token: string;
}

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/;

function parseRoute(url: string | undefined): Route | undefined {
  const match = ROUTE.exec(new URL(url ?? '/', 'http://host').pathname);
  return match ? { kind: match[1] as Route['kind'], token: match[2] } : undefined;
}

function splitHost(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
  if (!match) throw new InvalidArgumentError(`streaming address "${address}" is not host:port`);
  return { host: match[1], port: Number(match[2]) };
}

/** Every value of a header a client may send several times (Node joins them with commas). */
function headerValues(req: IncomingMessage, name: string): string[] {
  return (req.headersDistinct[name] ?? []).flatMap((value) => value.split(',')).map((value) => value.trim()).filter((value) => value !== '');
}

/** Answers a request on a raw socket (an upgrade we refuse) and hangs up. */
function refuse(socket: Duplex, status: number, message: string, headers: [string, string][] = []): void {
  const body = Buffer.from(`${message}\n`);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${body.length}`,
    'Connection: close',
    ...headers.map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
}

export class StreamServer {
  private readonly tokens: TokenStore<StreamRequest>;
  private readonly sockets = new Set<Duplex>();
  private server: http.Server | undefined;
  private baseUrl = '';

  constructor(
    private readonly options: StreamServerOptions,
    private readonly logger: Logger,
  ) {
    if (Boolean(options.tlsCertFile) !== Boolean(options.tlsKeyFile)) {
      throw new InvalidArgumentError('streaming TLS needs both a certificate and a key file');
    }
    this.tokens = new TokenStore(options.tokenTtlMs ?? TOKEN_TTL_MS, undefined, options.now);
  }

  /** The base URL once listening, e.g. http://127.0.0.1:41234. */
  get url(): string {
    return this.baseUrl;
  }

  async start(): Promise<void> {
    const { host, port } = splitHost(this.options.address);
    const tls = this.options.tlsCertFile && this.options.tlsKeyFile;
    const server = tls
      ? https.createServer({ cert: await readFile(this.options.tlsCertFile ?? ''), key: await readFile(this.options.tlsKeyFile ?? '') })
      : http.createServer();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onPlainRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const bound = server.address() as AddressInfo;
    const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    this.baseUrl = `${tls ? 'https' : 'http'}://${shownHost}:${bound.port}`;
    this.logger.info('streaming server listening', { url: this.baseUrl });
  }

  /** A URL the client may connect to once, within the token's lifetime. */
  issue(request: StreamRequest): string {
    if (!this.server) throw new InvalidArgumentError('the streaming server is not running');
    return `${this.baseUrl}/${request.kind}/${this.tokens.issue(request)}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private take(req: IncomingMessage): StreamRequest | undefined {
    const route = parseRoute(req.url);
    const request = route ? this.tokens.take(route.token) : undefined;
    return request && request.kind === route?.kind ? request : undefined;
  }

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    const request = this.take(req);
    res.writeHead(request ? 400 : 404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(request ? 'streaming requests must upgrade the connection to SPDY/3.1 or WebSocket\n' : 'no such stream request (unknown, used or expired)\n');
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error: Error) => this.logger.debug('streaming connection failed', { error: error.message }));
    const request = this.take(req);
    if (!request) {
      refuse(socket, 404, 'no such stream request (unknown, used or expired)');
      return;
    }
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'spdy/3.1') this.upgradeSpdy(req, socket, head, request);
    else if (upgrade === 'websocket') this.upgradeWebSocket(req, socket, head, request);
    else refuse(socket, 400, `cannot upgrade to "${req.headers.upgrade ?? ''}": expected SPDY/3.1 or websocket`);
  }

  private upgradeSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, request: StreamRequest): void {
    const supported = request.kind === 'portforward' ? SPDY_PORT_FORWARD_PROTOCOLS : SPDY_REMOTE_COMMAND_PROTOCOLS;
    const offered = headerValues(req, 'x-stream-protocol-version');
    const protocol = negotiate(offered, supported);
    if (!protocol) {
      refuse(
        socket,
        403,
        `unable to negotiate a stream protocol: client offers [${offered.join(', ')}], server accepts [${supported.join(', ')}]`,
        supported.map((name) => ['X-Accepted-Stream-Protocol-Versions', name]),
      );
      return;
    }
    socket.write(['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${protocol}`, '', ''].join('\r\n'));
    if (head.length > 0) socket.unshift(head);
    (socket as Socket).setNoDelay?.(true);
    const session = new SpdySession(socket, 'server', this.logger);
    const timeout = this.options.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS;
    const work =
      request.kind === 'portforward'
        ? serveSpdyPortForward(session, request, timeout, this.logger)
        : serveSpdyRemoteCommand(session, request, protocol, timeout, this.logger);
    this.settle(work, () => session.destroy());
  }

  private upgradeWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, request: StreamRequest): void {
    const supported = request.kind === 'portforward' ? WS_PORT_FORWARD_PROTOCOLS : WS_REMOTE_COMMAND_PROTOCOLS;
    const offered = headerValues(req, 'sec-websocket-protocol');
    const protocol = offered.length === 0 ? '' : negotiate(offered, supported.filter((name) => name !== ''));
    if (protocol === undefined) {
      refuse(socket, 403, `unable to negotiate a WebSocket subprotocol: client offers [${offered.join(', ')}], server accepts [${supported.join(', ')}]`);
      return;
    }
    const ports = request.kind === 'portforward' ? (request.ports.length > 0 ? request.ports : queryPorts(req)) : [];
    if (request.kind === 'portforward' && ports === undefined) {
      refuse(socket, 400, 'port forwarding over WebSocket needs ?port= (one or more ports from 1 to 65535)');
      return;
    }
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, handleProtocols: () => protocol });
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const mux = new WsChannelMux(ws, protocol);
      const work =
        request.kind === 'portforward'
          ? serveWsPortForward(mux, request, ports ?? [], this.logger)
          : serveWsRemoteCommand(mux, request, protocol, this.logger);
      this.settle(work, () => ws.terminate());
    });
  }

  private settle(work: Promise<void>, abandon: () => void): void {
    work.catch((error: unknown) => {
      this.logger.warn('stream request failed', { error: errorMessage(error) });
      abandon();
    });
  }
}

/** ?port=8080&port=9090 or ?port=8080,9090; undefined if absent or malformed. */
function queryPorts(req: IncomingMessage): number[] | undefined {
  const values = new URL(req.url ?? '/', 'http://host').searchParams.getAll('port').flatMap((value) => value.split(','));
  if (values.length === 0) return undefined;
  const ports = values.map(parsePort);
  return ports.every((port) => port !== undefined) ? ports : undefined;
}
