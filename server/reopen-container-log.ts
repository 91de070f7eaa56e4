import type { ReopenContainerLogRequest, ReopenContainerLogResponse } from '../proto/gen/cri-api-v1';
import { FailedPreconditionError } from '../system/errors';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';

export async function reopenContainerLog(ctx: ServerContext, request: ReopenContainerLogRequest): Promise<ReopenContainerLogResponse> {
  const container = ctx.state.containers.get(request.containerId);
  if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
  await handlerOf(ctx, container).reopenLog(container.id);
  return {};
}
