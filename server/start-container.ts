import { ContainerEventType, type StartContainerRequest, type StartContainerResponse } from '../proto/gen/cri-api-v1';
import { FailedPreconditionError } from '../system/errors';
import { handlerOf, startedNow } from './container-lifecycle';
import type { ServerContext } from './context';
import { withContainer } from './object-order';

export async function startContainer(ctx: ServerContext, request: StartContainerRequest): Promise<StartContainerResponse> {
  await withContainer(ctx, request.containerId, async (container) => {
    if (container.state !== 'created') throw new FailedPreconditionError(`container ${container.id} is ${container.state}, not created`);
    const handler = handlerOf(ctx, container);
    // Saved as running before the start, so an exit the watcher sees at once is not overwritten.
    const started = startedNow(container);
    await ctx.state.containers.save(started);
    try {
      await handler.startContainer(container.id);
    } catch (error) {
      // Back to created, unless the start went through before it failed (a runtime killed at its
      // bound may have started the process already) or the watcher saw it exit meanwhile.
      const now = await handler.containerState(container.id).catch(() => undefined);
      if (now?.status !== 'running' && now?.status !== 'stopped') await ctx.state.containers.update(container.id, (current) => (current.state === 'running' ? container : current));
      throw error;
    }
    ctx.events.publish(ctx, started, ContainerEventType.CONTAINER_STARTED_EVENT);
    ctx.logger.info('container started', { container_id: container.id, pod_id: container.podId });
  });
  return {};
}
