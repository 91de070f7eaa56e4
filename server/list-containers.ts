import type { ListContainersRequest, ListContainersResponse } from '../proto/gen/cri-api-v1';
import { matchingContainers } from './filters';
import { criContainer } from './container-view';
import type { ServerContext } from './context';

export async function listContainers(ctx: ServerContext, request: ListContainersRequest): Promise<ListContainersResponse> {
  const state = request.filter?.state;
  const containers = matchingContainers(ctx, request.filter)
    .map(criContainer)
    .filter((container) => state === undefined || container.state === state.state);
  return { containers };
}
