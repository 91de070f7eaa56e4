import type { ListContainersRequest, ListContainersResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { criContainer } from './container-view';

export async function listContainers(ctx: ServerContext, request: ListContainersRequest): Promise<ListContainersResponse> {
  const filter = request.filter;
  const selector = Object.entries(filter?.labelSelector ?? {});
  const containers = ctx.state.containers
    .list()
    .filter((container) => !filter?.id || container.id.startsWith(filter.id))
    .filter((container) => !filter?.podSandboxId || container.podId.startsWith(filter.podSandboxId))
    .map(criContainer)
    .filter((container) => filter?.state === undefined || container.state === filter.state.state)
    .filter((container) => selector.every(([key, value]) => container.labels[key] === value));
  return { containers };
}
