import type { PodSandboxStats } from '../proto/gen/cri-api-v1';
import type { PodRecord } from '../state/pod-record';
import { matchingContainers } from './filters';
import { cgroupStats, criContainerStats } from './container-stats-view';
import type { ServerContext } from './context';
import { loadedConfig } from './pod-config';

/** A pod's own cgroup usage (all its containers and its infra process) and each container's. */
export async function criPodSandboxStats(ctx: ServerContext, pod: PodRecord): Promise<PodSandboxStats> {
  const config = loadedConfig(pod.config);
  const { cpu, memory, io, processCount, timestamp } = await cgroupStats(pod.id, pod.state === 'ready' ? pod.cgroup.path : undefined);
  const containers = await Promise.all(matchingContainers(ctx, { podSandboxId: pod.id }).map((container) => criContainerStats(ctx, container)));
  return {
    attributes: { id: pod.id, metadata: config.metadata, labels: config.labels, annotations: config.annotations },
    linux: { cpu, memory, network: undefined, process: processCount && { timestamp, processCount }, containers, io },
    windows: undefined,
  };
}
