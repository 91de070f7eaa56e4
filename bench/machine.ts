import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../system/run-tool';

const GIT_TIMEOUT_MS = 5000;

/** The machine and code a run measured, for the results' header. */
export async function describeRun(): Promise<string> {
  const processors = cpus();
  const memoryGib = (totalmem() / 1024 ** 3).toFixed(1);
  const git = (args: string[]) => runTool('git', args, { timeoutMs: GIT_TIMEOUT_MS, cwd: join(__dirname, '..', '..') }).catch(() => undefined);
  const [head, changes] = await Promise.all([git(['rev-parse', '--short', 'HEAD']), git(['status', '--porcelain', '--untracked-files=no'])]);
  // A run of code that differs from its commit must not pass for that commit's.
  const changed = changes?.exitCode === 0 && changes.stdout.trim() !== '' ? ' with uncommitted changes' : '';
  const commit = head?.exitCode === 0 ? `, commit ${head.stdout.trim()}${changed}` : '';
  return `${processors.length} CPUs (${processors[0]?.model ?? 'unknown'}), ${memoryGib} GiB memory, Linux ${release()}${commit}`;
}
