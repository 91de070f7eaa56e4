// Wraps every CRI verb the same way: one debug line per call with its method, IDs, duration
// and status code, an error line with the message when it fails, metrics, and typed errors
// turned into gRPC statuses. Only the IDs below are ever taken from a request for logs, so
// nothing else in it (registry credentials above all) can reach a log line.
import { status as Code, type ServerErrorResponse, type handleServerStreamingCall, type handleUnaryCall } from '@grpc/grpc-js';
import type { ServerContext } from './context';
import { InvalidArgumentError } from '../system/errors';
import { codeName, toServiceError } from './grpc-status';
import type { CallerState } from './kept-creates';
import type { CallMetrics } from './metrics';
import { refusalOf } from './request-decoding';

export type Verb<Request, Response> = (ctx: ServerContext, request: Request, caller: CallerState) => Promise<Response>;
/**
 * A server-streaming verb sends its responses one by one; `send` waits while the client lags,
 * and `cancelled` fires when the client goes away.
 */
export type StreamingVerb<Request, Response> = (
  ctx: ServerContext,
  request: Request,
  send: (response: Response) => Promise<void>,
  cancelled: AbortSignal,
) => Promise<void>;

function stringAt(value: unknown, path: string[]): string | undefined {
  let node = value;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'string' && node !== '' ? node : undefined;
}

// A request may hold far longer values than a log line should.
const MAX_LOGGED_CHARS = 128;

const LOGGED_FIELDS: [string, string[]][] = [
  ['pod_id', ['podSandboxId']],
  ['container_id', ['containerId']],
  ['pod_name', ['config', 'metadata', 'name']],
  ['image', ['image', 'image']],
];

export function callFields(request: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, path] of LOGGED_FIELDS) {
    const value = stringAt(request, path);
    if (value !== undefined) fields[name] = value.length > MAX_LOGGED_CHARS ? `${value.slice(0, MAX_LOGGED_CHARS)}…` : value;
  }
  return fields;
}

/** A call that names a pod or a container claims it, if it was kept for a client that gave up. */
function claimNamed(ctx: ServerContext, request: unknown): void {
  const podId = stringAt(request, ['podSandboxId']);
  if (podId !== undefined) ctx.kept.pods.claim(podId);
  const containerId = stringAt(request, ['containerId']);
  if (containerId !== undefined) ctx.kept.containers.claim(containerId);
}

async function observed<T>(ctx: ServerContext, metrics: CallMetrics, method: string, request: unknown, work: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  claimNamed(ctx, request);
  const finish = (code: Code, error?: ServerErrorResponse): void => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.record(method, codeName(code), seconds);
    // The fields are gathered only for a line that is written: most calls log none.
    if (!error && !ctx.logger.isDebugEnabled()) return;
    const fields = { method, ...callFields(request), duration_ms: Math.round(seconds * 1e6) / 1e3, code: codeName(code) };
    if (error) ctx.logger.error('CRI call failed', { ...fields, error: error.details });
    else ctx.logger.debug('CRI call', fields);
  };
  try {
    const refusal = refusalOf(request);
    if (refusal !== undefined) throw new InvalidArgumentError(`${method}: ${refusal}`);
    const result = await work();
    finish(Code.OK);
    return result;
  } catch (thrown) {
    const error = toServiceError(thrown);
    finish(error.code ?? Code.INTERNAL, error);
    throw error;
  }
}

export function unaryCall(ctx: ServerContext, metrics: CallMetrics, method: string, verb: Verb<unknown, unknown>): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    const caller: CallerState = { clientGone: () => call.cancelled || Date.now() >= deadlineMs };
    observed(ctx, metrics, method, call.request, () => verb(ctx, call.request, caller)).then(
      (response) => callback(null, response),
      (error: ServerErrorResponse) => callback(error),
    );
  };
}

export function serverStreamingCall(
  ctx: ServerContext,
  metrics: CallMetrics,
  method: string,
  verb: StreamingVerb<unknown, unknown>,
): handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    const cancel = new AbortController();
    call.once('cancelled', () => cancel.abort());
    call.once('close', () => cancel.abort());
    // A client that went away never drains: its going ends the wait (the verb sees `cancelled`).
    const send = (response: unknown): Promise<void> =>
      cancel.signal.aborted || call.write(response)
        ? Promise.resolve()
        : new Promise((resolve) => {
            const done = (): void => {
              call.off('drain', done);
              cancel.signal.removeEventListener('abort', done);
              resolve();
            };
            call.once('drain', done);
            cancel.signal.addEventListener('abort', done, { once: true });
          });
    observed(ctx, metrics, method, call.request, () => verb(ctx, call.request, send, cancel.signal)).then(
      () => call.end(),
      (error: ServerErrorResponse) => call.emit('error', error),
    );
  };
}
