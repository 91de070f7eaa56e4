// Runs an exec or attach once its transport (SPDY or WebSocket) has the client's channels,
// then reports the outcome and hangs up. Transport-neutral: both transports end up here.
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import type { StreamIO } from '../oci/stream-io';
import { errorMessage } from '../system/errors';
import type { Logger } from '../system/logger';
import { withTimeout } from '../system/with-timeout';
import { encodeOutcome, type Outcome } from './exec-status';
import { readResizes } from './resize-reader';
import type { RemoteCommandRequest } from './stream-request';

/** How long output still queued may take to reach a client once the command is done. */
const FLUSH_TIMEOUT_MS = 30_000;

export interface CommandChannels {
  stdin: Readable | undefined;
  stdout: Writable | undefined;
  stderr: Writable | undefined;
  /** Carries the outcome. */
  error: Writable;
  resize: Readable | undefined;
  /** Whether the outcome is a JSON Status (v4 and later). */
  jsonStatus: boolean;
  /** Registers what to do when the client goes away first. */
  onDisconnect(listener: () => void): void;
  /** Ends the connection once what was written has left. */
  close(): void;
}

function endAndWait(stream: Writable, data?: Buffer): Promise<void> {
  if (!stream.writableEnded) stream.end(data);
  return finished(stream, { readable: false }).catch(() => undefined);
}

/** Waits for `work`, but no longer than FLUSH_TIMEOUT_MS: a client that stopped reading must not hold the session. */
function flushed(work: Promise<unknown>): Promise<unknown> {
  return withTimeout(work, FLUSH_TIMEOUT_MS, 'the streaming client took no more output').catch(() => undefined);
}

export async function runRemoteCommand(request: RemoteCommandRequest, channels: CommandChannels, logger: Logger): Promise<void> {
  const abort = new AbortController();
  channels.onDisconnect(() => abort.abort(new Error('the streaming client disconnected')));
  const io: StreamIO = {
    stdin: channels.stdin,
    stdout: channels.stdout,
    stderr: request.tty ? undefined : channels.stderr,
    tty: request.tty,
    resizes: request.tty && channels.resize ? readResizes(channels.resize) : undefined,
    signal: abort.signal,
  };
  let outcome: Outcome;
  try {
    outcome = { exitCode: await request.run(io) };
  } catch (error) {
    logger.info('stream request failed', { kind: request.kind, containerId: request.containerId, error: errorMessage(error) });
    outcome = { error };
  }
  if (abort.signal.aborted) {
    channels.close();
    return;
  }
  // Output first: client-go reads stdout and stderr to their end before it looks at the outcome.
  const outputs = [channels.stdout, channels.stderr].filter((stream): stream is Writable => stream !== undefined);
  await flushed(Promise.all(outputs.map((stream) => endAndWait(stream))));
  await flushed(endAndWait(channels.error, encodeOutcome(outcome, channels.jsonStatus)));
  channels.close();
}
