import type { RemoveContainerRequest, RemoveContainerResponse } from '../proto/gen/cri-api-v1';
import { removeContainerRecord } from './container-lifecycle';
import type { ServerContext } from './context';

// CRI: removing a container that is already gone must succeed.
export async function removeContainer(ctx: ServerContext, request: RemoveContainerRequest): Promise<RemoveContainerResponse> {
  const container = ctx.state.containers.find(request.containerId);
  if (container) await removeContainerRecord(ctx, container);
  return {};
}
