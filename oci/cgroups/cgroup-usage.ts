import { errorCode } from '../../system/error-code';
import { readKernelFile } from '../../system/kernel-files';

/** One line of a pressure file: the share of time tasks stalled, as averages and a total. */
export interface PsiFigures {
  /** Microseconds stalled since the cgroup was made. */
  totalMicros: bigint;
  avg10: number;
  avg60: number;
  avg300: number;
}

/** A pressure file (cpu.pressure, memory.pressure, io.pressure): some tasks stalled, and all of them. */
export interface Psi {
  some: PsiFigures;
  full: PsiFigures | undefined;
}

export interface CpuReading {
  usageNanos: bigint;
  psi?: Psi;
}

export interface MemoryReading {
  usageBytes: number;
  /** Usage less inactive page cache: what the kubelet evicts on. */
  workingSetBytes: number;
  /** Anonymous memory (v1 rss, v2 anon). */
  rssBytes: number;
  pageFaults: number;
  majorPageFaults: number;
  /** The cgroup's own limit; undefined when it has none. */
  limitBytes: number | undefined;
  psi?: Psi;
}

/** What a cgroup has used; a part is missing when its controller or file is (a cgroup that is gone has none). */
export interface CgroupUsage {
  cpu?: CpuReading;
  memory?: MemoryReading;
  processCount?: number;
  ioPsi?: Psi;
}

/** Reads a cgroup's usage by its path relative to the hierarchy root(s), for one cgroup version. */
export interface CgroupStatsReader {
  readonly version: 'v1' | 'v2';
  usage(path: string): Promise<CgroupUsage>;
}

// A file that is missing (cgroup gone, controller off) or that the kernel does not support
// (pressure files with PSI disabled) reads as nothing.
const ABSENT = new Set(['ENOENT', 'ENODEV', 'EOPNOTSUPP']);

/** A single-value cgroup file, trimmed; undefined when it is absent. */
export async function readCgroupValue(path: string): Promise<string | undefined> {
  try {
    return (await readKernelFile(path)).trim();
  } catch (error) {
    if (ABSENT.has(errorCode(error) ?? '')) return undefined;
    throw error;
  }
}

/** A cgroup file holding one count (pids.current, memory.current); undefined when absent. */
export async function readCgroupNumber(path: string): Promise<number | undefined> {
  const text = await readCgroupValue(path);
  return text === undefined ? undefined : Number(text);
}

/** A flat-keyed cgroup file such as memory.stat or cpu.stat, as numbers by key; undefined when absent. */
export async function readKeyed(path: string): Promise<Map<string, number> | undefined> {
  const text = await readCgroupValue(path);
  if (text === undefined) return undefined;
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined) values.set(key, Number(value));
  }
  return values;
}

/** The memory.stat keys a cgroup version names the figures by. */
export interface MemoryStatKeys {
  inactiveFile: string;
  rss: string;
  pageFaults: string;
  majorPageFaults: string;
}

/** The CRI memory figures from a usage reading and memory.stat, the same way for both versions. */
export function memoryReading(usageBytes: number, stat: Map<string, number>, keys: MemoryStatKeys, limitBytes: number | undefined): MemoryReading {
  return {
    usageBytes,
    workingSetBytes: Math.max(0, usageBytes - (stat.get(keys.inactiveFile) ?? 0)),
    rssBytes: stat.get(keys.rss) ?? 0,
    pageFaults: stat.get(keys.pageFaults) ?? 0,
    majorPageFaults: stat.get(keys.majorPageFaults) ?? 0,
    limitBytes,
  };
}
