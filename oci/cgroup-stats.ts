import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from '../system/error-code';
import { podHierarchies, type CgroupHierarchy } from './cgroup-hierarchies';

/** What a cgroup has used, read from its cgroup files (v1 or v2, whichever holds the controller). */
export interface CgroupUsage {
  cpuUsageNanos: bigint;
  memoryUsageBytes: number;
  /** Usage less inactive page cache: what the kubelet evicts on. */
  workingSetBytes: number;
  rssBytes: number;
  pageFaults: number;
  majorPageFaults: number;
}

async function readNumberFile(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** A flat-keyed cgroup file such as memory.stat or cpu.stat, as numbers by key. */
async function readKeyed(path: string): Promise<Map<string, number>> {
  const text = (await readNumberFile(path)) ?? '';
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined) values.set(key, Number(value));
  }
  return values;
}

function holding(hierarchies: CgroupHierarchy[], controller: string): CgroupHierarchy | undefined {
  return hierarchies.find((hierarchy) => hierarchy.controllers.includes(controller));
}

/** The usage of the cgroup at `path` (relative to each hierarchy root); undefined if it is gone. */
export async function readCgroupUsage(path: string): Promise<CgroupUsage | undefined> {
  const hierarchies = await podHierarchies();
  const cpu = holding(hierarchies, 'cpuacct') ?? holding(hierarchies, 'cpu');
  const memory = holding(hierarchies, 'memory');
  if (!cpu || !memory) return undefined;
  const cpuDir = join(cpu.mountPoint, path);
  const memoryDir = join(memory.mountPoint, path);

  let cpuUsageNanos: bigint;
  if (cpu.version === 'v1') {
    const usage = await readNumberFile(join(cpuDir, 'cpuacct.usage'));
    if (usage === undefined) return undefined;
    cpuUsageNanos = BigInt(usage);
  } else {
    const stat = await readKeyed(join(cpuDir, 'cpu.stat'));
    if (!stat.has('usage_usec')) return undefined;
    cpuUsageNanos = BigInt(stat.get('usage_usec') ?? 0) * 1000n;
  }

  const v1 = memory.version === 'v1';
  const usage = await readNumberFile(join(memoryDir, v1 ? 'memory.usage_in_bytes' : 'memory.current'));
  if (usage === undefined) return undefined;
  const stat = await readKeyed(join(memoryDir, 'memory.stat'));
  const memoryUsageBytes = Number(usage);
  const inactiveFile = stat.get(v1 ? 'total_inactive_file' : 'inactive_file') ?? 0;
  return {
    cpuUsageNanos,
    memoryUsageBytes,
    workingSetBytes: Math.max(0, memoryUsageBytes - inactiveFile),
    rssBytes: stat.get(v1 ? 'total_rss' : 'anon') ?? 0,
    pageFaults: stat.get(v1 ? 'total_pgfault' : 'pgfault') ?? 0,
    majorPageFaults: stat.get(v1 ? 'total_pgmajfault' : 'pgmajfault') ?? 0,
  };
}
