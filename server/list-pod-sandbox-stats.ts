import type { ListPodSandboxStatsRequest, ListPodSandboxStatsResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { loadedConfig } from './pod-config';
import { criPodSandboxStats } from './pod-stats-view';

export async function listPodSandboxStats(ctx: ServerContext, request: ListPodSandboxStatsRequest): Promise<ListPodSandboxStatsResponse> {
  const filter = request.filter;
  const selector = Object.entries(filter?.labelSelector ?? {});
  const pods = ctx.state.pods
    .list()
    .filter((pod) => !filter?.id || pod.id.startsWith(filter.id))
    .filter((pod) => {
      const labels = loadedConfig(pod.config).labels;
      return selector.every(([key, value]) => labels[key] === value);
    });
  return { stats: await Promise.all(pods.map((pod) => criPodSandboxStats(ctx, pod))) };
}
