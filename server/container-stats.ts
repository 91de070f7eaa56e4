import type { ContainerStatsRequest, ContainerStatsResponse } from '../proto/gen/cri-api-v1';
import { criContainerStats } from './container-stats-view';
import type { ServerContext } from './context';

export async function containerStats(ctx: ServerContext, request: ContainerStatsRequest): Promise<ContainerStatsResponse> {
  return { stats: await criContainerStats(ctx, ctx.state.containers.get(request.containerId)) };
}
