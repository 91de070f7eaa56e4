import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../system/run-tool';

const GIT_TIMEOUT_MS = 5000;

/** The machine and code a run measured, for the results' header. */
export async function describeRun(): Promise<string> {
  const processors = cpus();
  const memoryGib = (totalmem() / 1024 ** 3).toFixed(1);
  const git = await runTool('git', ['rev-parse', '--short', 'HEAD'], { timeoutMs: GIT_TIMEOUT_MS, cwd: join(__dirname, '..', '..') }).catch(() => undefined);
  const commit = git?.exitCode === 0 ? `, commit ${git.stdout.trim()}` : '';
  return `${processors.length} CPUs (${processors[0]?.model ?? 'unknown'}), ${memoryGib} GiB memory, Linux ${release()}${commit}`;
}
