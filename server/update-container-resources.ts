import { containerResources } from '../oci/spec/resources';
import type { UpdateContainerResourcesRequest, UpdateContainerResourcesResponse } from '../proto/gen/cri-api-v1';
import { FailedPreconditionError, InvalidArgumentError } from '../system/errors';
import { loadedContainerConfig, storedContainerConfig } from './container-config';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';
import { checkResources } from './request-validation';

// The new limits go to the runtime first, then into the record, so status reports what applies.
export async function updateContainerResources(ctx: ServerContext, request: UpdateContainerResourcesRequest): Promise<UpdateContainerResourcesResponse> {
  const container = ctx.state.containers.get(request.containerId);
  if (!request.linux) throw new InvalidArgumentError('UpdateContainerResources: linux resources are missing');
  checkResources(request.linux, 'linux');
  if (container.state === 'exited') throw new FailedPreconditionError(`container ${container.id} has exited`);
  await handlerOf(ctx, container).updateResources(container.id, containerResources(request.linux));
  const config = loadedContainerConfig(container.config);
  const linux = config.linux ?? { resources: undefined, securityContext: undefined };
  await ctx.state.containers.save({ ...container, config: storedContainerConfig({ ...config, linux: { ...linux, resources: request.linux } }) });
  ctx.logger.info('container resources updated', { container_id: container.id });
  return {};
}
