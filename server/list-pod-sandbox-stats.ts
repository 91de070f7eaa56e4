import type { ListPodSandboxStatsRequest, ListPodSandboxStatsResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { matchingPods } from './filters';
import { criPodSandboxStats } from './pod-stats-view';

export async function listPodSandboxStats(ctx: ServerContext, request: ListPodSandboxStatsRequest): Promise<ListPodSandboxStatsResponse> {
  return { stats: await Promise.all(matchingPods(ctx, request.filter).map((pod) => criPodSandboxStats(ctx, pod))) };
}
