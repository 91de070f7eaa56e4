import type { CgroupUsage, Psi, PsiFigures } from '../oci/cgroups/cgroup-usage';
import { containerCgroupsPath } from '../oci/spec/cgroups-path';
import type { ContainerStats, CpuUsage, IoUsage, MemoryUsage, PsiData, PsiStats } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import { rootfsPaths, writableLayerUsage } from '../storage/rootfs';
import { mountPointOf } from '../storage/fs-usage';
import { loadedContainerConfig } from './container-config';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';

// The previous CPU reading per container: usage_nano_cores is the rate between two readings.
const lastCpu = new Map<string, { usage: bigint; at: bigint }>();

/** The running container's usage, as the handler that runs it reads it; nothing once it stopped. */
async function containerUsage(ctx: ServerContext, container: ContainerRecord): Promise<CgroupUsage> {
  const pod = ctx.state.pods.find(container.podId);
  // Nor when its pod's record was set aside, damaged: nothing says which handler runs it.
  if (container.state !== 'running' || !pod) return {};
  return handlerOf(ctx, container).containerUsage(container.id, containerCgroupsPath(pod.cgroup.path, ctx.config.cgroup_manager, container.id));
}

/** Drops the remembered reading of a removed container or pod, so the map does not grow forever. */
export function forgetCpuReading(key: string): void {
  lastCpu.delete(key);
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
  if (!cpu) {
    lastCpu.delete(key);
    return undefined;
  }
  const previous = lastCpu.get(key);
  // A counter below its last reading was reset (a VM container's cgroup, removed by runc in the
  // guest as its process exits, reads as zero until the host hears of the exit): no rate then;
  // a negative one is no uint64, and would fail the whole answer.
  const rated = previous !== undefined && now > previous.at && cpu.usageNanos >= previous.usage;
  const nanoCores = rated ? ((cpu.usageNanos - previous.usage) * 1_000_000_000n) / (now - previous.at) : undefined;
  lastCpu.set(key, { usage: cpu.usageNanos, at: now });
  return { timestamp: now, usageCoreNanoSeconds: value(cpu.usageNanos), usageNanoCores: nanoCores === undefined ? undefined : value(nanoCores), psi: psiStats(cpu.psi) };
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
 * `key` names the cgroup for the nano-cores rate, which needs the previous reading.
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
      fsId: { mountpoint: await mountPointOf(container.dir) },
      usedBytes: value(layer.bytes),
      inodesUsed: value(layer.inodes),
    },
    swap: undefined,
    io,
  };
}
