import { join } from 'node:path';
import { type CgroupStatsReader, type CgroupUsage, memoryReading, readCgroupNumber, readCgroupValue, readKeyed } from './cgroup-usage';

/** Where each v1 controller's hierarchy is mounted; undefined when it is not. */
export interface V1ControllerDirs {
  cpuacct: string | undefined;
  memory: string | undefined;
  pids: string | undefined;
}

// v1 reports "no limit" as the largest page-aligned signed 64-bit number; anything this large means none.
const V1_UNLIMITED = 2 ** 62;

// memory.stat's total_* figures count the cgroup and its descendants (a pod's containers too).
const STAT_KEYS = { inactiveFile: 'total_inactive_file', rss: 'total_rss', pageFaults: 'total_pgfault', majorPageFaults: 'total_pgmajfault' };

async function cpuUsage(dir: string): Promise<CgroupUsage['cpu']> {
  const usage = await readCgroupValue(join(dir, 'cpuacct.usage'));
  return usage === undefined ? undefined : { usageNanos: BigInt(usage) };
}

async function memoryUsage(dir: string): Promise<CgroupUsage['memory']> {
  const [usage, stat, limit] = await Promise.all([readCgroupNumber(join(dir, 'memory.usage_in_bytes')), readKeyed(join(dir, 'memory.stat')), readCgroupNumber(join(dir, 'memory.limit_in_bytes'))]);
  if (usage === undefined || stat === undefined) return undefined;
  return memoryReading(usage, stat, STAT_KEYS, limit === undefined || limit >= V1_UNLIMITED ? undefined : limit);
}

/** Cgroup v1: each controller in its own hierarchy, the cgroup at the same path in each. */
export function v1StatsReader(dirs: V1ControllerDirs): CgroupStatsReader {
  return {
    version: 'v1',
    async usage(path: string): Promise<CgroupUsage> {
      const [cpu, memory, processes] = await Promise.all([
        dirs.cpuacct === undefined ? undefined : cpuUsage(join(dirs.cpuacct, path)),
        dirs.memory === undefined ? undefined : memoryUsage(join(dirs.memory, path)),
        dirs.pids === undefined ? undefined : readCgroupNumber(join(dirs.pids, path, 'pids.current')),
      ]);
      return { cpu, memory, processCount: processes };
    },
  };
}
