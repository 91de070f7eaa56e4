import { containerCgroupsPath } from '../oci/spec/cgroups-path';
import { readCgroupUsage } from '../oci/cgroup-stats';
import type { ContainerStats } from '../proto/gen/cri-api-v1';
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

export async function criContainerStats(ctx: ServerContext, container: ContainerRecord): Promise<ContainerStats> {
  const config = loadedContainerConfig(container.config);
  const now = BigInt(Date.now()) * 1_000_000n;
  const usage = container.state === 'running' ? await readCgroupUsage(containerCgroupDir(ctx, container)) : undefined;
  let nanoCores: bigint | undefined;
  if (usage) {
    const previous = lastCpu.get(container.id);
    if (previous && now > previous.at) nanoCores = ((usage.cpuUsageNanos - previous.usage) * 1_000_000_000n) / (now - previous.at);
    lastCpu.set(container.id, { usage: usage.cpuUsageNanos, at: now });
  } else {
    lastCpu.delete(container.id);
  }
  const rootfs = rootfsPaths(container.dir);
  const layer = await writableLayerUsage(rootfs);
  const value = (n: number | bigint) => ({ value: BigInt(n) });
  return {
    attributes: { id: container.id, metadata: config.metadata, labels: config.labels, annotations: config.annotations },
    cpu: usage
      ? { timestamp: now, usageCoreNanoSeconds: value(usage.cpuUsageNanos), usageNanoCores: nanoCores === undefined ? undefined : value(nanoCores), psi: undefined }
      : undefined,
    memory: usage
      ? {
          timestamp: now,
          workingSetBytes: value(usage.workingSetBytes),
          availableBytes: undefined,
          usageBytes: value(usage.memoryUsageBytes),
          rssBytes: value(usage.rssBytes),
          pageFaults: value(usage.pageFaults),
          majorPageFaults: value(usage.majorPageFaults),
          psi: undefined,
        }
      : undefined,
    writableLayer: { timestamp: now, fsId: { mountpoint: await mountPointOf(container.dir) }, usedBytes: value(layer.bytes), inodesUsed: value(layer.inodes) },
    swap: undefined,
    io: undefined,
  };
}
