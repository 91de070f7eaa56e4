import type { LinuxContainerResources } from '../../proto/gen/cri-api-v1';
import type { OciResources } from './oci-types';

// The kernel's ceiling for oom_score_adj.
const MAX_OOM_SCORE_ADJ = 1000;

/** Cgroup limits from the CRI; zero means "not set" for every field, as in the kubelet. */
export function containerResources(resources: LinuxContainerResources | undefined): Omit<OciResources, 'devices'> {
  const result: Omit<OciResources, 'devices'> = { hugepageLimits: [] };
  if (resources === undefined) return result;
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (resources.cpuShares > 0n) cpu.shares = Number(resources.cpuShares);
  if (resources.cpuQuota !== 0n) cpu.quota = Number(resources.cpuQuota);
  if (resources.cpuPeriod > 0n) cpu.period = Number(resources.cpuPeriod);
  if (resources.cpusetCpus !== '') cpu.cpus = resources.cpusetCpus;
  if (resources.cpusetMems !== '') cpu.mems = resources.cpusetMems;
  if (Object.keys(cpu).length > 0) result.cpu = cpu;
  if (resources.memoryLimitInBytes > 0n) {
    // Swap equal to the limit means no swap on top of it, which is what the kubelet expects
    // unless it asks for swap itself.
    const swap = resources.memorySwapLimitInBytes > 0n ? resources.memorySwapLimitInBytes : resources.memoryLimitInBytes;
    result.memory = { limit: Number(resources.memoryLimitInBytes), swap: Number(swap) };
  }
  result.hugepageLimits = resources.hugepageLimits.map((limit) => ({ pageSize: limit.pageSize, limit: Number(limit.limit) }));
  if (Object.keys(resources.unified).length > 0) result.unified = { ...resources.unified };
  return result;
}

/** The CRI's oom_score_adj kept within [lowest, 1000]; the host may forbid going below a floor. */
export function oomScoreAdj(resources: LinuxContainerResources | undefined, lowest: number): number {
  return Math.min(MAX_OOM_SCORE_ADJ, Math.max(lowest, Number(resources?.oomScoreAdj ?? 0n)));
}
