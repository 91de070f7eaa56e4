import { join } from 'node:path';
import { type CgroupStatsReader, type CgroupUsage, type Psi, type PsiFigures, memoryReading, readCgroupNumber, readCgroupValue, readKeyed } from './cgroup-usage';

const STAT_KEYS = { inactiveFile: 'inactive_file', rss: 'anon', pageFaults: 'pgfault', majorPageFaults: 'pgmajfault' };

/** One pressure line's fields: "avg10=0.12 avg60=0.05 avg300=0.01 total=12345". */
function psiFigures(fields: string[]): PsiFigures {
  const values = new Map(fields.map((field) => field.split('=') as [string, string]));
  return { totalMicros: BigInt(values.get('total') ?? '0'), avg10: Number(values.get('avg10') ?? 0), avg60: Number(values.get('avg60') ?? 0), avg300: Number(values.get('avg300') ?? 0) };
}

async function readPsi(path: string): Promise<Psi | undefined> {
  const text = await readCgroupValue(path);
  if (text === undefined) return undefined;
  const lines = new Map(text.split('\n').map((line) => [line.split(' ')[0], line.split(' ').slice(1)]));
  const some = lines.get('some');
  if (some === undefined) return undefined;
  const full = lines.get('full');
  return { some: psiFigures(some), full: full === undefined ? undefined : psiFigures(full) };
}

async function cpuUsage(dir: string): Promise<CgroupUsage['cpu']> {
  const [stat, psi] = await Promise.all([readKeyed(join(dir, 'cpu.stat')), readPsi(join(dir, 'cpu.pressure'))]);
  const usec = stat?.get('usage_usec');
  return usec === undefined ? undefined : { usageNanos: BigInt(usec) * 1000n, psi };
}

async function memoryUsage(dir: string): Promise<CgroupUsage['memory']> {
  const [usage, stat, limit, psi] = await Promise.all([
    readCgroupNumber(join(dir, 'memory.current')),
    readKeyed(join(dir, 'memory.stat')),
    readCgroupValue(join(dir, 'memory.max')),
    readPsi(join(dir, 'memory.pressure')),
  ]);
  if (usage === undefined || stat === undefined) return undefined;
  return { ...memoryReading(usage, stat, STAT_KEYS, limit === undefined || limit === 'max' ? undefined : Number(limit)), psi };
}

/**
 * Cgroup v2: one hierarchy at `root`. cpu.stat and the pressure files are there whatever the
 * controllers; memory.* and pids.* only where the parent enabled that controller for it.
 */
export function v2StatsReader(root: string): CgroupStatsReader {
  return {
    version: 'v2',
    async usage(path: string): Promise<CgroupUsage> {
      const dir = join(root, path);
      const [cpu, memory, processCount, ioPsi] = await Promise.all([cpuUsage(dir), memoryUsage(dir), readCgroupNumber(join(dir, 'pids.current')), readPsi(join(dir, 'io.pressure'))]);
      return { cpu, memory, processCount, ioPsi };
    },
  };
}
