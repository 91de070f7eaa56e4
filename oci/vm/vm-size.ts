import { availableParallelism } from 'node:os';
import type { LinuxContainerResources, PodSandboxConfig } from '../../proto/gen/cri-api-v1';
import type { ContainerLimits } from '../runtime-handler';

/** What a container's limits ask of its pod's VM. */
export type ContainerDemand = Pick<ContainerLimits, 'cpu' | 'memory'>;

export interface VmSize {
  vcpus: number;
  memoryMiB: number;
}

const MIB = 1024n * 1024n;

/** CPUs and bytes one set of CRI resources limits a pod to; 0 where it sets no limit. */
function limits(resources: LinuxContainerResources | undefined): { cpus: number; bytes: bigint } {
  const quota = Number(resources?.cpuQuota ?? 0n);
  const period = Number(resources?.cpuPeriod ?? 0n);
  const bytes = resources?.memoryLimitInBytes ?? 0n;
  return { cpus: quota > 0 && period > 0 ? quota / period : 0, bytes: bytes > 0n ? bytes : 0n };
}

/**
 * The VM a pod gets, as Kata sizes its sandboxes: the configured size for the guest itself (its
 * kernel, the agent), plus what the pod's containers are limited to and the pod's overhead, as
 * the kubelet sums them in the sandbox config. vCPUs beyond the host's CPUs buy nothing.
 */
export function podVmSize(config: PodSandboxConfig, base: VmSize, hostCpus = availableParallelism()): VmSize {
  const parts = [limits(config.linux?.resources), limits(config.linux?.overhead)];
  const cpus = parts.reduce((sum, part) => sum + part.cpus, 0);
  const bytes = parts.reduce((sum, part) => sum + part.bytes, 0n);
  return {
    vcpus: Math.max(base.vcpus, Math.min(hostCpus, base.vcpus + Math.ceil(cpus))),
    memoryMiB: base.memoryMiB + Number((bytes + MIB - 1n) / MIB),
  };
}

/**
 * The size a running pod VM should have for its containers: what it booted with at least (the
 * pod's own reserve), grown where the containers' limits together ask for more. Hot-plugged
 * vCPUs and memory are given back as limits shrink or containers go, down to the boot size.
 */
export function wantedVmSize(boot: VmSize, base: VmSize, overhead: LinuxContainerResources | undefined, containers: ContainerDemand[], hostCpus = availableParallelism()): VmSize {
  const fixed = limits(overhead);
  let cpus = fixed.cpus;
  let bytes = fixed.bytes;
  for (const { cpu, memory } of containers) {
    if ((cpu?.quota ?? 0) > 0 && (cpu?.period ?? 0) > 0) cpus += (cpu?.quota ?? 0) / (cpu?.period ?? 1);
    if ((memory?.limit ?? 0) > 0) bytes += BigInt(memory?.limit ?? 0);
  }
  return {
    vcpus: Math.max(boot.vcpus, Math.min(hostCpus, base.vcpus + Math.ceil(cpus))),
    memoryMiB: Math.max(boot.memoryMiB, base.memoryMiB + Number((bytes + MIB - 1n) / MIB)),
  };
}
