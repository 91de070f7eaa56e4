import type { PodSandboxStatsRequest, PodSandboxStatsResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { criPodSandboxStats } from './pod-stats-view';

export async function podSandboxStats(ctx: ServerContext, request: PodSandboxStatsRequest): Promise<PodSandboxStatsResponse> {
  return { stats: await criPodSandboxStats(ctx, ctx.state.pods.get(request.podSandboxId)) };
}
