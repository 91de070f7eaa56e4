import type { ListContainerStatsRequest, ListContainerStatsResponse } from '../proto/gen/cri-api-v1';
import { matchingContainers } from './filters';
import { criContainerStats } from './container-stats-view';
import type { ServerContext } from './context';

export async function listContainerStats(ctx: ServerContext, request: ListContainerStatsRequest): Promise<ListContainerStatsResponse> {
  const containers = matchingContainers(ctx, request.filter);
  return { stats: await Promise.all(containers.map((container) => criContainerStats(ctx, container))) };
}
