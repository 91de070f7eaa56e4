import type { CgroupUsage, Psi, PsiFigures } from '../oci/cgroups/cgroup-usage';
import { containerCgroupsPath } from '../oci/spec/cgroups-path';
import type { ContainerStats, CpuUsage, IoUsage, MemoryUsage, PsiData, PsiStats } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import { rootfsPaths, writableLayerUsage } from '../storage/rootfs';
import { mountPointOf } from '../storage/fs-usage';
import { loadedContainerConfig } from './container-config';
import { nanoCores } from './cpu-rates';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';

/** The running container's usage, as the handler that runs it reads it; nothing once it stopped. */
export async function containerUsage(ctx: ServerContext, container: ContainerRecord): Promise<CgroupUsage> {
  const pod = ctx.state.pods.find(container.podId);
  // Nor when its pod's record was set aside, damaged: nothing says which handler runs it.
  if (container.state !== 'running' || !pod) return {};
  return handlerOf(ctx, container).containerUsage(container.id, containerCgroupsPath(pod.cgroup.path, ctx.config.cgroup_manager, container.id));
}

/** Now, in nanoseconds since the epoch, as CRI timestamps are. */
export const timestampNow = (): bigint => BigInt(Date.now()) * 1_000_000n;

const value = (n: number | bigint): { value: bigint } => ({ value: BigInt(n) });

const psiData = (figures: PsiFigures): PsiData => ({ Total: figures.totalMicros, Avg10: figures.avg10, Avg60: figures.avg60, Avg300: figures.avg300 });

function psiStats(psi: Psi | undefined): PsiStats | undefined {
  return psi && { Some: psiData(psi.some), Full: psi.full && psiData(psi.full) };
}

/** One cgroup's usage (a container's or a pod's) as CRI reports it. */
export interface CriCgroupStats {
  cpu: CpuUsage | undefined;
  memory: MemoryUsage | undefined;
  io: IoUsage | undefined;
  processCount: { value: bigint } | undefined;
  timestamp: bigint;
}

function cpuStats(key: string, cpu: CgroupUsage['cpu'], now: bigint): CpuUsage | undefined {
  if (!cpu) return undefined;
  const rate = nanoCores(key);
  return { timestamp: now, usageCoreNanoSeconds: value(cpu.usageNanos), usageNanoCores: rate === undefined ? undefined : value(rate), psi: psiStats(cpu.psi) };
}

function memoryStats(memory: CgroupUsage['memory'], now: bigint): MemoryUsage | undefined {
  if (!memory) return undefined;
  return {
    timestamp: now,
    workingSetBytes: value(memory.workingSetBytes),
    // Like the kubelet's cAdvisor figures: what is left below the limit, when there is one.
    availableBytes: memory.limitBytes === undefined ? undefined : value(Math.max(0, memory.limitBytes - memory.workingSetBytes)),
    usageBytes: value(memory.usageBytes),
    rssBytes: value(memory.rssBytes),
    pageFaults: value(memory.pageFaults),
    majorPageFaults: value(memory.majorPageFaults),
    psi: psiStats(memory.psi),
  };
}

/**
 * A cgroup reading (a container's or a pod's) as CRI reports it, taken at `now` (nanoseconds);
 * `key` names the cgroup whose nano-cores rate the daemon's sampler keeps.
 */
export function criCgroupStats(key: string, usage: CgroupUsage, now: bigint): CriCgroupStats {
  return {
    cpu: cpuStats(key, usage.cpu, now),
    memory: memoryStats(usage.memory, now),
    io: usage.ioPsi && { timestamp: now, psi: psiStats(usage.ioPsi) },
    processCount: usage.processCount === undefined ? undefined : value(usage.processCount),
    timestamp: now,
  };
}

const mountPoints = new WeakMap<ContainerRecord, string>();

/**
 * The mount point of the filesystem holding the container's files, found once per record: the
 * mount table it is read from grows with every container, and the answer does not change.
 */
export async function containerMountPoint(container: ContainerRecord): Promise<string> {
  const known = mountPoints.get(container);
  if (known !== undefined) return known;
  const found = await mountPointOf(container.dir);
  mountPoints.set(container, found);
  return found;
}

export async function criContainerStats(ctx: ServerContext, container: ContainerRecord): Promise<ContainerStats> {
  const config = loadedContainerConfig(container.config);
  const { cpu, memory, io } = criCgroupStats(container.id, await containerUsage(ctx, container), timestampNow());
  const layer = await writableLayerUsage(rootfsPaths(container.dir));
  return {
    attributes: { id: container.id, metadata: config.metadata, labels: config.labels, annotations: config.annotations },
    cpu,
    memory,
    writableLayer: {
      timestamp: timestampNow(),
      fsId: { mountpoint: await containerMountPoint(container) },
      usedBytes: value(layer.bytes),
      inodesUsed: value(layer.inodes),
    },
    swap: undefined,
    io,
  };
}
