// The tool thread's entry: runs the programs run-tool.ts hands it. Node forks a child on the
// thread that spawns it and waits there until the child has exec'd, milliseconds on a busy
// host; here that wait holds up no reply of the daemon's.
import { parentPort } from 'node:worker_threads';
import { DeadlineExceededError, errorMessage } from './errors';
import type { ToolOptions, ToolOutcome } from './run-tool';
import { spawnTool } from './spawn-tool';

export interface ToolJob {
  id: number;
  file: string;
  args: string[];
  options: ToolOptions;
}

/** A job's outcome, or why it has none: the program overran, or could not be run. */
export type ToolReply = { id: number; outcome: ToolOutcome } | { id: number; failure: { overrun: boolean; message: string } };

parentPort?.on('message', (job: ToolJob) => {
  spawnTool(job.file, job.args, job.options).then(
    (outcome) => parentPort?.postMessage({ id: job.id, outcome } satisfies ToolReply),
    (error: unknown) => parentPort?.postMessage({ id: job.id, failure: { overrun: error instanceof DeadlineExceededError, message: errorMessage(error) } } satisfies ToolReply),
  );
});
