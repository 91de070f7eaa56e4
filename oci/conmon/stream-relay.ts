import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { finished, type Readable, type Writable } from 'node:stream';
import { FailedPreconditionError, InternalError, errorMessage } from '../../system/errors';

/** The relay built from oci/conmon/relay/stream-relay.c beside the compiled code (dist/stream-relay). */
export const STREAM_RELAY_PATH = join(__dirname, '..', '..', 'stream-relay');

// The relay's exit status when it could not reach the far end.
const NO_CONNECTION = 2;
// It says why it failed in a line or two; more would only be noise held in memory.
const MAX_STDERR_BYTES = 4096;
// How long a stopped relay may take to pass its input's end on before it is killed.
const STOP_GRACE_MS = 1_000;

export interface RelayStreams {
  /** The relay's working directory (an attach socket is found there by a relative name). */
  cwd?: string;
  /** What goes to the far end; its end shuts the socket's write side. */
  input: Readable | undefined;
  /** What comes back; ended when the far end closes. */
  output: Writable;
  /**
   * Aborting ends the session without an error (unless the far end was never reached): the far
   * end first sees the input end, then the relay has a grace period to exit by itself before it
   * is killed.
   */
  stop: AbortSignal;
  /** The far end, for error messages: "port 80 in pod P". */
  target: string;
}

/**
 * Runs the stream relay (see stream-relay.c) between `input`/`output` and a socket. Data moves
 * through pipes with back-pressure both ways. Resolves once the far end closed and `output` took
 * everything, or once the relay is gone after `stop` aborted; rejects with
 * FailedPreconditionError when the far end cannot be reached.
 */
export function runRelay(args: string[], streams: RelayStreams): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(STREAM_RELAY_PATH, args, { cwd: streams.cwd, stdio: [streams.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_STDERR_BYTES) stderr += chunk.toString('utf8');
    });
    let graceTimer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    // A client that left sent no end of its input, but the far end must see one before the socket
    // closes: conmon 2.1.6 may leave a stdin_once container's stdin open when a write to a closed
    // attach socket fails before it reads the end (it uses the connection after freeing it).
    const stop = (): void => {
      if (streams.input === undefined || child.stdin === null) return kill();
      streams.input.unpipe(child.stdin);
      child.stdin.end();
      graceTimer = setTimeout(kill, STOP_GRACE_MS);
    };
    if (streams.stop.aborted) stop();
    else streams.stop.addEventListener('abort', stop, { once: true });
    if (streams.input !== undefined && child.stdin !== null) {
      // The relay may be gone (the far end closed) while input still arrives.
      child.stdin.on('error', () => undefined);
      streams.input.pipe(child.stdin);
    }
    child.stdout?.pipe(streams.output);
    child.on('error', (error) => reject(new InternalError(`cannot run ${STREAM_RELAY_PATH}: ${errorMessage(error)}`)));
    child.on('close', (code) => {
      clearTimeout(graceTimer);
      streams.stop.removeEventListener('abort', stop);
      if (streams.input !== undefined && child.stdin !== null) streams.input.unpipe(child.stdin);
      const why = stderr.trim().replace(/^stream-relay: /, '');
      // A far end never reached is a failure even if the client left meanwhile: over SPDY the
      // relay's own end of output may be what closed the client's stream.
      if (code === NO_CONNECTION) reject(new FailedPreconditionError(`cannot connect to ${streams.target}: ${why}`));
      else if (streams.stop.aborted) resolve();
      else if (code !== 0) reject(new InternalError(`relaying ${streams.target} failed: ${why || `exit status ${code ?? 'none (killed)'}`}`));
      // An output the client destroyed is finished too: what is left has nowhere to go.
      else finished(streams.output, { readable: false }, () => resolve());
    });
  });
}
