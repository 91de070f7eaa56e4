// A worker thread that does jobs of a few kinds for the main thread, so that what a job costs
// there (forking a program, a burst of small reads) holds up no reply of the daemon's.
import { parentPort, SHARE_ENV, Worker } from 'node:worker_threads';
import { DeadlineExceededError, InternalError, errorMessage } from './errors';

/** The kinds of job a thread does: each kind's job and result, as [Job, Result]. */
export type JobKinds = Record<string, [unknown, unknown]>;

interface JobMessage {
  id: number;
  kind: string;
  job: unknown;
}

/** A job's result, or why it has none: it overran its time, or it failed. */
type JobReply = { id: number; result: unknown } | { id: number; failure: { overrun: boolean; message: string } };

/** The thread running `script`, started at the first job; it keeps the daemon alive only while a job runs. */
export class JobThread<Kinds extends JobKinds> {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  constructor(private readonly script: string) {}

  /** Resolves with the job's result; rejects with DeadlineExceededError if it overran, InternalError otherwise. */
  run<Kind extends keyof Kinds & string>(kind: Kind, job: Kinds[Kind][0]): Promise<Kinds[Kind][1]> {
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      // The thread's serveJobs answers a job of this kind with this kind's result.
      this.pending.set(id, { resolve: (result) => resolve(result as Kinds[Kind][1]), reject });
      worker.postMessage({ id, kind, job } satisfies JobMessage);
    });
  }

  private started(): Worker {
    if (this.worker !== undefined) return this.worker;
    // The daemon's environment is the thread's too, changes included (copying it per job costs more than the job's message).
    const worker = new Worker(this.script, { env: SHARE_ENV });
    worker.unref();
    worker.on('message', (reply: JobReply) => {
      const job = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if ('result' in reply) job?.resolve(reply.result);
      else job?.reject(reply.failure.overrun ? new DeadlineExceededError(reply.failure.message) : new InternalError(reply.failure.message));
    });
    // A thread that failed takes its jobs' answers with it; the next job starts another.
    const lost = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const job of this.pending.values()) job.reject(new InternalError(`the thread running ${this.script} ended: ${why}`));
      this.pending.clear();
    };
    worker.on('error', (error) => lost(errorMessage(error)));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.worker = worker;
    return worker;
  }
}

/** In a job thread's script: does each job the main thread sends with the work for its kind, and answers it. */
export function serveJobs<Kinds extends JobKinds>(work: { [Kind in keyof Kinds]: (job: Kinds[Kind][0]) => Promise<Kinds[Kind][1]> }): void {
  parentPort?.on('message', ({ id, kind, job }: JobMessage) => {
    // Only this daemon's own code posts here, with a kind from Kinds.
    work[kind as keyof Kinds](job as Kinds[keyof Kinds][0]).then(
      (result) => parentPort?.postMessage({ id, result } satisfies JobReply),
      (error: unknown) => parentPort?.postMessage({ id, failure: { overrun: error instanceof DeadlineExceededError, message: errorMessage(error) } } satisfies JobReply),
    );
  });
}
