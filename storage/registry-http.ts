import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { DeadlineExceededError, InternalError, PodvisorError, UnavailableError, errorMessage } from '../system/errors';
import { verifyingContext } from './tls-trust';

// One HTTP exchange with a registry, a token service or a blob store, and the errors that tell
// a caller whether trying again could help.

export interface RequestOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Check the server certificate; off only for registries marked insecure. */
  verifyTls: boolean;
  /** Bounds connecting, waiting for the answer, and any pause while the body streams. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** How far a connection got before it failed. */
export type ConnectionStage = 'connect' | 'tls' | 'exchange';

/** The connection failed before an answer arrived. */
export class ConnectionError extends InternalError {
  constructor(
    message: string,
    readonly stage: ConnectionStage,
  ) {
    super(message);
  }
}

/** The server answered with a status we cannot use. */
export class HttpStatusError extends InternalError {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

// Error codes of a connection that was up and then went away: worth another try.
const DROPPED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Whether the same request might succeed if sent again shortly. */
export function isTransient(error: unknown): boolean {
  if (error instanceof DeadlineExceededError) return true;
  if (error instanceof ConnectionError) return error.stage === 'exchange';
  if (error instanceof HttpStatusError) return error.status === 408 || error.status === 429 || error.status >= 500;
  // By code, not class: stream errors may come from another realm (a vm context, jest).
  const code: unknown = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && DROPPED_CODES.has(code);
}

// HTTP answers gRPC itself reads as UNAVAILABLE: the server is overloaded, or a proxy before it cannot reach it.
const UNAVAILABLE_STATUSES = new Set([429, 502, 503, 504]);

/**
 * A failure that tries have not cured, as the caller should see it: a registry that cannot be
 * reached, dropped the connection or keeps answering "try later" is UnavailableError naming it;
 * anything else is as it was.
 */
export function finalFailure(error: unknown, host: string): unknown {
  const message = errorMessage(error);
  if ((error instanceof ConnectionError && error.stage !== 'tls') || (error instanceof HttpStatusError && UNAVAILABLE_STATUSES.has(error.status))) {
    return new UnavailableError(message.includes(host) ? message : `registry ${host}: ${message}`);
  }
  // A stream error of the body (by code: it may come from another realm, as isTransient says).
  const code: unknown = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (!(error instanceof PodvisorError) && typeof code === 'string' && DROPPED_CODES.has(code)) {
    return new UnavailableError(`connection to registry ${host} dropped: ${message}`);
  }
  return error;
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return typeof reason === 'object' && reason !== null ? (reason as Error) : new InternalError('request aborted');
}

function connectionError(error: Error, url: URL, stage: ConnectionStage): ConnectionError {
  const what = {
    connect: `cannot connect to ${url.host}`,
    tls: `TLS handshake with ${url.host} failed`,
    exchange: `connection to ${url.host} dropped`,
  }[stage];
  return new ConnectionError(`${what}: ${errorMessage(error)}`, stage);
}

/**
 * Sends one request and resolves with the response once its headers arrive; redirects are not
 * followed. The body is the caller's to consume; a timeout or abort while it streams makes the
 * response emit that error.
 */
export async function sendRequest(url: URL, options: RequestOptions): Promise<IncomingMessage> {
  const { signal } = options;
  signal?.throwIfAborted();
  const secure = url.protocol === 'https:';
  const tlsOptions = !secure ? {} : options.verifyTls ? { secureContext: await verifyingContext() } : { rejectUnauthorized: false };
  return new Promise((resolve, reject) => {
    let stage: ConnectionStage = 'connect';
    let response: IncomingMessage | undefined;
    let ourError: Error | undefined;
    const headers = options.body === undefined ? options.headers : { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) };
    const request = (secure ? https : http).request(url, { method: options.method ?? 'GET', headers, timeout: options.timeoutMs, ...tlsOptions });
    // Destroying the response too makes a body reader see our reason, not a bare "aborted".
    const fail = (error: Error): void => {
      ourError ??= error;
      response?.destroy(error);
      request.destroy(error);
    };
    const onAbort = (): void => {
      if (signal) fail(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => signal?.removeEventListener('abort', onAbort);

    request.on('timeout', () => fail(new DeadlineExceededError(`${url.host} did not answer within ${options.timeoutMs} ms`)));
    request.on('socket', (socket) => {
      if (!socket.connecting) {
        stage = 'exchange';
        return;
      }
      socket.once('connect', () => (stage = secure ? 'tls' : 'exchange'));
      if (secure) socket.once('secureConnect', () => (stage = 'exchange'));
    });
    request.on('error', (error) => {
      done();
      reject(error === ourError ? error : connectionError(error, url, stage));
    });
    request.on('response', (answer) => {
      response = answer;
      answer.once('close', done);
      resolve(answer);
    });
    request.end(options.body);
  });
}

/** Reads a whole (small) body, refusing more than `limit` bytes. */
export async function readBody(response: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(response.headers['content-length'] ?? 0);
  if (declared > limit) {
    response.destroy();
    throw new InternalError(`response of ${declared} bytes exceeds the ${limit}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      response.destroy();
      throw new InternalError(`response exceeds the ${limit}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Delay a 429 or 503 asks for in Retry-After (seconds form only). */
function retryAfterMs(response: IncomingMessage): number | undefined {
  const seconds = Number(response.headers['retry-after']);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

// Registries explain failures as {"errors":[{"code","message"}]}; that is worth showing.
const ERROR_BODY_LIMIT = 16 * 1024;

async function errorDetail(response: IncomingMessage): Promise<string> {
  let text: string;
  try {
    text = (await readBody(response, ERROR_BODY_LIMIT)).toString('utf8');
  } catch {
    return '';
  }
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const parts = (parsed.errors ?? []).map((e) => [e.code, e.message].filter((p) => typeof p === 'string').join(': '));
    return parts.filter((p) => p !== '').join('; ');
  } catch {
    return '';
  }
}

/** An error for an answer we cannot use, with the registry's own explanation when it gave one. */
export async function statusError(response: IncomingMessage, what: string): Promise<HttpStatusError> {
  const status = response.statusCode ?? 0;
  const detail = await errorDetail(response);
  return new HttpStatusError(`${what}: HTTP ${status}${detail === '' ? '' : ` (${detail})`}`, status, retryAfterMs(response));
}
