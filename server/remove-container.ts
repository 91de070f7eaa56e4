import type { RemoveContainerRequest, RemoveContainerResponse } from '../proto/gen/cri-api-v1';
import { removeContainerRecord } from './container-lifecycle';
import type { ServerContext } from './context';
import { withContainerIfAny } from './object-order';

// CRI: removing a container that is already gone must succeed.
export async function removeContainer(ctx: ServerContext, request: RemoveContainerRequest): Promise<RemoveContainerResponse> {
  await withContainerIfAny(ctx, request.containerId, (container) => removeContainerRecord(ctx, container));
  return {};
}
