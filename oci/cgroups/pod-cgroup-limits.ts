// A pod's own cgroup limits, as the kubelet sizes a pod cgroup: what its containers are limited
// to together plus the pod's overhead. Written straight into the pod cgroup's files, which is
// what the kubelet does for the pod cgroups it makes; a pod without a kubelet-given parent has
// only ours, which nothing else would resize.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LinuxContainerResources } from '../../proto/gen/cri-api-v1';
import { errorCode } from '../../system/error-code';
import { FailedPreconditionError, InternalError, errorMessage } from '../../system/errors';
import type { PodResources } from '../runtime-handler';
import { type CgroupHierarchy, podHierarchies } from './cgroup-hierarchies';

/** Limits of a pod cgroup; an absent one is left as it is, -1 lifts one (as in the CRI). */
export interface PodCgroupLimits {
  cpuShares?: bigint;
  cpuQuota?: bigint;
  cpuPeriod?: bigint;
  memoryBytes?: bigint;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** cgroup v2 files by name and the values to write. */
  unified: Record<string, string>;
}

const DEFAULT_CPU_PERIOD_US = 100_000n;
const UNLIMITED = -1n;

/** A set value, or 0 for an unset or lifted one. */
function positive(value: bigint | undefined): bigint {
  return value !== undefined && value > 0n ? value : 0n;
}

function periodOf(resources: LinuxContainerResources | undefined): bigint {
  return positive(resources?.cpuPeriod) || DEFAULT_CPU_PERIOD_US;
}

/**
 * The pod cgroup's limits: the containers' total plus the overhead. CPU quota and memory are
 * set only where the containers have a limit (the overhead alone limits nothing), or lifted
 * where they send -1; the overhead's quota counts in the containers' period.
 */
export function podCgroupLimits({ resources, overhead }: PodResources): PodCgroupLimits {
  const limits: PodCgroupLimits = { unified: { ...resources?.unified } };
  const shares = positive(resources?.cpuShares) + positive(overhead?.cpuShares);
  if (shares > 0n) limits.cpuShares = shares;
  const quota = resources?.cpuQuota ?? 0n;
  if (quota !== 0n) {
    const period = periodOf(resources);
    limits.cpuPeriod = period;
    limits.cpuQuota = quota === UNLIMITED ? UNLIMITED : quota + (positive(overhead?.cpuQuota) * period) / periodOf(overhead);
  }
  const memory = resources?.memoryLimitInBytes ?? 0n;
  if (memory !== 0n) limits.memoryBytes = memory === UNLIMITED ? UNLIMITED : memory + positive(overhead?.memoryLimitInBytes);
  if (resources?.cpusetCpus) limits.cpusetCpus = resources.cpusetCpus;
  if (resources?.cpusetMems) limits.cpusetMems = resources.cpusetMems;
  return limits;
}

// cgroup v2 weights from v1 shares, the conversion runc and the kubelet use.
function cpuWeight(shares: bigint): bigint {
  return 1n + ((shares - 2n) * 9999n) / 262_142n;
}

/** A limit as a v2 file takes it: "max" for none. */
function v2Value(limit: bigint): string {
  return limit === UNLIMITED ? 'max' : String(limit);
}

/** The files to write in one hierarchy, in order (a period before the quota measured in it). */
function limitFiles(hierarchy: CgroupHierarchy, limits: PodCgroupLimits): [string, string][] {
  const has = (controller: string): boolean => hierarchy.controllers.includes(controller);
  const files: [string, string][] = [];
  const v2 = hierarchy.version === 'v2';
  if (has('cpu') && limits.cpuShares !== undefined) files.push(v2 ? ['cpu.weight', String(cpuWeight(limits.cpuShares))] : ['cpu.shares', String(limits.cpuShares)]);
  if (has('cpu') && limits.cpuQuota !== undefined && limits.cpuPeriod !== undefined) {
    if (v2) files.push(['cpu.max', `${v2Value(limits.cpuQuota)} ${limits.cpuPeriod}`]);
    else files.push(['cpu.cfs_period_us', String(limits.cpuPeriod)], ['cpu.cfs_quota_us', String(limits.cpuQuota)]);
  }
  if (has('memory') && limits.memoryBytes !== undefined) files.push(v2 ? ['memory.max', v2Value(limits.memoryBytes)] : ['memory.limit_in_bytes', String(limits.memoryBytes)]);
  if (has('cpuset') && limits.cpusetCpus !== undefined) files.push(['cpuset.cpus', limits.cpusetCpus]);
  if (has('cpuset') && limits.cpusetMems !== undefined) files.push(['cpuset.mems', limits.cpusetMems]);
  if (v2) {
    // The keys were checked to be files of a controller (server/request-validation.ts).
    for (const [name, value] of Object.entries(limits.unified)) if (has(name.slice(0, name.indexOf('.')))) files.push([name, value]);
  }
  return files;
}

/**
 * Writes `limits` into the pod cgroup at `cgroupPath` in every pod hierarchy. A limit the kernel
 * refuses for what runs in the pod now (memory below its usage, a quota below a container's on
 * v1) is FailedPrecondition; the limits written before it stay.
 */
export async function setPodCgroupLimits(cgroupPath: string, limits: PodCgroupLimits): Promise<void> {
  for (const hierarchy of await podHierarchies()) {
    const dir = join(hierarchy.mountPoint, cgroupPath);
    for (const [file, value] of limitFiles(hierarchy, limits)) {
      try {
        await writeFile(join(dir, file), value);
      } catch (error) {
        const code = errorCode(error);
        const message = `cannot set ${file} of pod cgroup ${cgroupPath} to ${value}: ${errorMessage(error)}`;
        throw code === 'EBUSY' || code === 'EINVAL' ? new FailedPreconditionError(message) : new InternalError(message);
      }
    }
  }
}
