import { availableParallelism, totalmem } from 'node:os';
import type { LinuxContainerResources, PodSandboxConfig } from '../../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../../system/errors';
import type { ContainerLimits, PodResources } from '../runtime-handler';

/** What a container's limits ask of its pod's VM. */
export type ContainerDemand = Pick<ContainerLimits, 'cpu' | 'memory'>;

export interface VmSize {
  vcpus: number;
  memoryMiB: number;
}

const MIB = 1024n * 1024n;

function hostMemoryMiB(): number {
  return Math.floor(totalmem() / Number(MIB));
}

/** A set of CRI resources as the OCI limits they become. */
function demandOf(resources: LinuxContainerResources | undefined): ContainerDemand {
  return {
    cpu: { quota: Number(resources?.cpuQuota ?? 0n), period: Number(resources?.cpuPeriod ?? 0n) },
    memory: { limit: Number(resources?.memoryLimitInBytes ?? 0n) },
  };
}

/**
 * The configured size for the guest itself (its kernel, the agent) plus what the demands limit
 * their processes to together; no limit asks for nothing. vCPUs beyond the host's buy nothing;
 * memory beyond the host's cannot be given a VM at all, so such demands are refused.
 */
function sized(base: VmSize, demands: ContainerDemand[], hostCpus: number, hostMiB: number): VmSize {
  let cpus = 0;
  let bytes = 0n;
  for (const { cpu, memory } of demands) {
    const quota = cpu?.quota ?? 0;
    const period = cpu?.period ?? 0;
    if (quota > 0 && period > 0) cpus += quota / period;
    if ((memory?.limit ?? 0) > 0) bytes += BigInt(memory?.limit ?? 0);
  }
  const memoryMiB = base.memoryMiB + Number((bytes + MIB - 1n) / MIB);
  if (memoryMiB > hostMiB) {
    throw new InvalidArgumentError(
      `the pod's VM would need ${memoryMiB} MiB (${base.memoryMiB} MiB of its own and the memory limits of the pod and its containers), more than this host's ${hostMiB} MiB`,
    );
  }
  return { vcpus: Math.max(base.vcpus, Math.min(hostCpus, base.vcpus + Math.ceil(cpus))), memoryMiB };
}

/**
 * The VM a pod boots as, as Kata sizes its sandboxes: the guest's own size plus what the pod's
 * containers are limited to and the pod's overhead, as the kubelet sums them in the sandbox config.
 */
export function podVmSize(config: PodSandboxConfig, base: VmSize, hostCpus = availableParallelism(), hostMiB = hostMemoryMiB()): VmSize {
  return sized(base, [demandOf(config.linux?.resources), demandOf(config.linux?.overhead)], hostCpus, hostMiB);
}

/**
 * The size a running pod VM should have: what it booted with at least (the pod's own reserve),
 * grown where the containers' limits and the pod's overhead together ask for more, or where the
 * pod's resources as last resized (UpdatePodSandboxResources) do. Hot-plugged vCPUs and memory
 * are given back as limits shrink or containers go, down to the boot size.
 */
export function wantedVmSize(
  boot: VmSize,
  base: VmSize,
  pod: PodResources | undefined,
  containers: ContainerDemand[],
  hostCpus = availableParallelism(),
  hostMiB = hostMemoryMiB(),
): VmSize {
  const overhead = demandOf(pod?.overhead);
  const forContainers = sized(base, [overhead, ...containers], hostCpus, hostMiB);
  const forPod = sized(base, [overhead, demandOf(pod?.resources)], hostCpus, hostMiB);
  return {
    vcpus: Math.max(boot.vcpus, forContainers.vcpus, forPod.vcpus),
    memoryMiB: Math.max(boot.memoryMiB, forContainers.memoryMiB, forPod.memoryMiB),
  };
}
