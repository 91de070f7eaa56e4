import { join } from 'node:path';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { DeadlineExceededError, InternalError, errorMessage } from './errors';
import type { ToolJob, ToolReply } from './tool-thread';

export interface ToolOptions {
  timeoutMs: number;
  /** Names the call in the error of one that overruns ("CNI plugin bridge ADD for pod X"); the program's path by default. */
  what?: string;
  /** Written to the program's stdin, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Working directory of the program, for tools that take paths relative to it. */
  cwd?: string;
}

export interface ToolOutcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** The thread every tool runs from, started at the first; it keeps the daemon alive only while a tool runs. */
class ToolThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (outcome: ToolOutcome) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  run(file: string, args: string[], options: ToolOptions): Promise<ToolOutcome> {
    const worker = this.started();
    const id = this.nextId++;
    const job: ToolJob = { id, file, args, options };
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject });
      worker.postMessage(job);
    });
  }

  private started(): Worker {
    if (this.worker !== undefined) return this.worker;
    // The daemon's environment is the thread's too, changes included (copying it per job costs more than the job's message).
    const worker = new Worker(join(__dirname, 'tool-thread.js'), { env: SHARE_ENV });
    worker.unref();
    worker.on('message', (reply: ToolReply) => {
      const job = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if ('outcome' in reply) job?.resolve(reply.outcome);
      else job?.reject(reply.failure.overrun ? new DeadlineExceededError(reply.failure.message) : new InternalError(reply.failure.message));
    });
    // A thread that failed takes its jobs' answers with it; the next tool starts another.
    const lost = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const job of this.pending.values()) job.reject(new InternalError(`the tool thread ended: ${why}`));
      this.pending.clear();
    };
    worker.on('error', (error) => lost(errorMessage(error)));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.worker = worker;
    return worker;
  }
}

const toolThread = new ToolThread();

/**
 * Runs a program to completion without a shell, from the tool thread (see spawnTool for what
 * it resolves and rejects with), so that starting it holds up no reply.
 */
export function runTool(file: string, args: string[], options: ToolOptions): Promise<ToolOutcome> {
  return toolThread.run(file, args, options);
}

/** A program that ran and failed; `stderr` is kept so callers can tell known failures apart. */
export class CommandFailedError extends InternalError {
  constructor(
    readonly command: string,
    readonly stderr: string,
    exitCode: number | null,
  ) {
    super(`${command}: ${stderr || `exit status ${exitCode ?? 'none (killed)'}`}`);
  }
}

/** Runs a program that must succeed and returns its stdout; a failure is a CommandFailedError. */
export async function runToolChecked(file: string, args: string[], options: ToolOptions): Promise<string> {
  const outcome = await runTool(file, args, options);
  if (outcome.exitCode !== 0) throw new CommandFailedError([file, ...args].join(' '), outcome.stderr.trim(), outcome.exitCode);
  return outcome.stdout;
}
