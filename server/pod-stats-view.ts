import type { PodSandboxStats } from '../proto/gen/cri-api-v1';
import type { CgroupUsage } from '../oci/cgroups/cgroup-usage';
import type { PodRecord } from '../state/pod-record';
import { matchingContainers } from './filters';
import { criCgroupStats, criContainerStats, timestampNow } from './container-stats-view';
import type { ServerContext } from './context';
import { loadedConfig } from './pod-config';
import { criNetworkUsage, podInterfaces } from './pod-network-view';

/** The whole pod's usage (all its containers and what runs it), as its handler reads it; nothing once it stopped. */
export async function podUsage(ctx: ServerContext, pod: PodRecord): Promise<CgroupUsage> {
  const handler = ctx.handlers.find(pod.runtimeHandler);
  return pod.state === 'ready' && handler ? handler.podUsage(pod.id) : {};
}

/** A pod's own usage, its network's and each container's. */
export async function criPodSandboxStats(ctx: ServerContext, pod: PodRecord): Promise<PodSandboxStats> {
  const config = loadedConfig(pod.config);
  const { cpu, memory, io, processCount, timestamp } = criCgroupStats(pod.id, await podUsage(ctx, pod), timestampNow());
  const [containers, interfaces] = await Promise.all([
    Promise.all(matchingContainers(ctx, { podSandboxId: pod.id }).map((container) => criContainerStats(ctx, container))),
    podInterfaces(ctx, pod),
  ]);
  return {
    attributes: { id: pod.id, metadata: config.metadata, labels: config.labels, annotations: config.annotations },
    linux: { cpu, memory, network: criNetworkUsage(interfaces, timestamp), process: processCount && { timestamp, processCount }, containers, io },
    windows: undefined,
  };
}
