import { containerCgroupsPath } from '../oci/spec/cgroups-path';
import { readCgroupUsage } from '../oci/cgroup-stats';
import type { ContainerStats, CpuUsage, MemoryUsage } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import { rootfsPaths, writableLayerUsage } from '../storage/rootfs';
import { mountPointOf } from '../storage/fs-usage';
import { loadedContainerConfig } from './container-config';
import type { ServerContext } from './context';

// The previous CPU reading per container: usage_nano_cores is the rate between two readings.
const lastCpu = new Map<string, { usage: bigint; at: bigint }>();

/** The cgroup directory runc made for the container from the cgroupsPath we gave it. */
function containerCgroupDir(ctx: ServerContext, container: ContainerRecord): string {
  const pod = ctx.state.pods.get(container.podId);
  const path = containerCgroupsPath(pod.cgroup.path, ctx.config.cgroup_manager, container.id);
  if (ctx.config.cgroup_manager === 'cgroupfs') return path;
  const [, prefix, name] = path.split(':');
  return `${pod.cgroup.path}/${prefix}-${name}.scope`;
}

/** Drops the remembered reading of a removed container or pod, so the map does not grow forever. */
export function forgetCpuReading(key: string): void {
  lastCpu.delete(key);
}

const value = (n: number | bigint): { value: bigint } => ({ value: BigInt(n) });

/**
 * CPU and memory of one cgroup (a container's or a pod's) as CRI reports them; `key` names it
 * for the nano-cores rate, which needs the previous reading.
 */
export async function cgroupStats(key: string, cgroupDir: string | undefined): Promise<{ cpu: CpuUsage | undefined; memory: MemoryUsage | undefined }> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const usage = cgroupDir === undefined ? undefined : await readCgroupUsage(cgroupDir);
  if (!usage) {
    lastCpu.delete(key);
    return { cpu: undefined, memory: undefined };
  }
  const previous = lastCpu.get(key);
  const nanoCores = previous && now > previous.at ? ((usage.cpuUsageNanos - previous.usage) * 1_000_000_000n) / (now - previous.at) : undefined;
  lastCpu.set(key, { usage: usage.cpuUsageNanos, at: now });
  return {
    cpu: { timestamp: now, usageCoreNanoSeconds: value(usage.cpuUsageNanos), usageNanoCores: nanoCores === undefined ? undefined : value(nanoCores), psi: undefined },
    memory: {
      timestamp: now,
      workingSetBytes: value(usage.workingSetBytes),
      availableBytes: undefined,
      usageBytes: value(usage.memoryUsageBytes),
      rssBytes: value(usage.rssBytes),
      pageFaults: value(usage.pageFaults),
      majorPageFaults: value(usage.majorPageFaults),
      psi: undefined,
    },
  };
}

export async function criContainerStats(ctx: ServerContext, container: ContainerRecord): Promise<ContainerStats> {
  const config = loadedContainerConfig(container.config);
  const { cpu, memory } = await cgroupStats(container.id, container.state === 'running' ? containerCgroupDir(ctx, container) : undefined);
  const layer = await writableLayerUsage(rootfsPaths(container.dir));
  return {
    attributes: { id: container.id, metadata: config.metadata, labels: config.labels, annotations: config.annotations },
    cpu,
    memory,
    writableLayer: {
      timestamp: BigInt(Date.now()) * 1_000_000n,
      fsId: { mountpoint: await mountPointOf(container.dir) },
      usedBytes: value(layer.bytes),
      inodesUsed: value(layer.inodes),
    },
    swap: undefined,
    io: undefined,
  };
}
