import { setTimeout as sleep } from 'node:timers/promises';
import { readStat } from '../system/process-stat';
import { runToolChecked } from '../system/run-tool';

async function clockTicksPerSecond(): Promise<number> {
  return Number((await runToolChecked('getconf', ['CLK_TCK'], { timeoutMs: 5000 })).trim());
}

async function cpuTicks(pids: readonly number[]): Promise<number> {
  const stats = await Promise.all(pids.map((pid) => readStat(pid)));
  return stats.reduce((sum, stat) => sum + (stat?.cpuTicks ?? 0), 0);
}

/** The CPU each group of processes uses over the next `ms` milliseconds, in % of one core; all groups over the same window. */
export async function cpuOverWindow(groups: readonly (readonly number[])[], ms: number, signal: AbortSignal): Promise<number[]> {
  const ticksPerSecond = await clockTicksPerSecond();
  const before = await Promise.all(groups.map(cpuTicks));
  await sleep(ms, undefined, { signal });
  const after = await Promise.all(groups.map(cpuTicks));
  return after.map((ticks, index) => ((ticks - before[index]) / ticksPerSecond / (ms / 1000)) * 100);
}
