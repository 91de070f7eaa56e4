import { Writable } from 'node:stream';
import { InternalError } from '../../system/errors';
import type { StreamIO } from '../stream-io';
import { runRelay } from './stream-relay';

// The relay's frames carry conmon's pipe numbers (its stdpipe_t); 0 says the socket is connected.
const CONNECTED_PIPE = 0;
const STDOUT_PIPE = 2;
const STDERR_PIPE = 3;
// A pipe byte and a 4-byte big-endian payload length.
const FRAME_HEADER_BYTES = 5;

/**
 * Writes to `target` and waits until it takes more. Output nobody can take is dropped: a missing
 * or destroyed target, or a client that went away (`gone`) and will never drain what it holds.
 */
function deliver(target: Writable | undefined, payload: Buffer, gone: AbortSignal): Promise<void> {
  if (target === undefined || gone.aborted || target.destroyed || target.writableEnded || target.write(payload)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      target.off('drain', done).off('close', done).off('error', done);
      gone.removeEventListener('abort', done);
      resolve();
    };
    target.on('drain', done).on('close', done).on('error', done);
    gone.addEventListener('abort', done);
  });
}

/**
 * Splits the relay's frames into the client's stdout and stderr. A write completes only when
 * its payloads were taken, so a slow client stops the relay reading from conmon.
 */
class AttachFrameDemux extends Writable {
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly io: Pick<StreamIO, 'stdout' | 'stderr' | 'signal'>,
    private readonly onConnected: () => void,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.deliverFrames().then(() => callback(), callback);
  }

  private async deliverFrames(): Promise<void> {
    while (this.pending.length >= FRAME_HEADER_BYTES) {
      const end = FRAME_HEADER_BYTES + this.pending.readUInt32BE(1);
      if (this.pending.length < end) return;
      const pipe = this.pending[0];
      const payload = this.pending.subarray(FRAME_HEADER_BYTES, end);
      this.pending = this.pending.subarray(end);
      if (pipe === CONNECTED_PIPE) this.onConnected();
      else if (pipe === STDOUT_PIPE) await deliver(this.io.stdout, payload, this.io.signal);
      else if (pipe === STDERR_PIPE) await deliver(this.io.stderr, payload, this.io.signal);
    }
  }
}

export interface AttachSession {
  /** Settles once the socket is connected: conmon sends output to it from then on. */
  connected: Promise<void>;
  /** Settles when conmon closed the socket (its process ended) and all output was delivered, or on `stop`. */
  finished: Promise<void>;
}

/**
 * Joins the client's streams to the conmon attach socket in `dir` (conmon's bundle directory or
 * its link in the socket directory). Without io.stdin the socket's input side is left alone:
 * closing it would close the container's stdin. `stop` detaches; once io.signal aborts, output
 * is read and dropped, so conmon (which blocks on a full socket) is never stuck on a lost client.
 */
export function relayAttachSocket(dir: string, io: Pick<StreamIO, 'stdin' | 'stdout' | 'stderr' | 'signal'>, stop: AbortSignal): AttachSession {
  let markConnected = (): void => undefined;
  const connectedOnce = new Promise<void>((resolve) => {
    markConnected = resolve;
  });
  const finished = runRelay(io.stdin === undefined ? ['attach', '-n'] : ['attach'], {
    cwd: dir,
    input: io.stdin,
    output: new AttachFrameDemux(io, () => markConnected()),
    stop,
    target: `the attach socket in ${dir}`,
  });
  const connected = Promise.race([
    connectedOnce,
    finished.then(() => {
      throw new InternalError(`the attach socket in ${dir} closed before it connected`);
    }),
  ]);
  // Callers that only wait for `finished` must not see this one reject unhandled.
  connected.catch(() => undefined);
  return { connected, finished };
}
