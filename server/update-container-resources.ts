import { containerResources } from '../oci/spec/resources';
import type { UpdateContainerResourcesRequest, UpdateContainerResourcesResponse } from '../proto/gen/cri-api-v1';
import { FailedPreconditionError, InvalidArgumentError } from '../system/errors';
import { loadedContainerConfig, storedContainerConfig } from './container-config';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';
import { withContainer } from './object-order';
import { checkResources } from './request-validation';

// The new limits go to the runtime first, then into the record, so status reports what applies.
export async function updateContainerResources(ctx: ServerContext, request: UpdateContainerResourcesRequest): Promise<UpdateContainerResourcesResponse> {
  const resources = request.linux;
  if (!resources) throw new InvalidArgumentError('UpdateContainerResources: linux resources are missing');
  checkResources(resources, 'linux');
  await withContainer(ctx, request.containerId, async (container) => {
    if (container.state === 'exited') throw new FailedPreconditionError(`container ${container.id} has exited`);
    await handlerOf(ctx, container).updateResources(container.id, containerResources(resources));
    // The exit watcher may have recorded an exit meanwhile: only the config changes here.
    await ctx.state.containers.update(container.id, (current) => {
      const config = loadedContainerConfig(current.config);
      const linux = config.linux ?? { resources: undefined, securityContext: undefined };
      return { ...current, config: storedContainerConfig({ ...config, linux: { ...linux, resources } }) };
    });
    ctx.logger.info('container resources updated', { container_id: container.id });
  });
  return {};
}
