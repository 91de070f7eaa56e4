import type { ContainerStatusRequest, ContainerStatusResponse } from '../proto/gen/cri-api-v1';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';
import { criContainerStatus } from './container-view';

export async function containerStatus(ctx: ServerContext, request: ContainerStatusRequest): Promise<ContainerStatusResponse> {
  const container = ctx.state.containers.get(request.containerId);
  const info: Record<string, string> = {};
  if (request.verbose) {
    const state = container.state === 'running' ? await handlerOf(ctx, container).containerState(container.id) : undefined;
    info.info = JSON.stringify({ name: container.name, pid: state?.pid, rootfs: container.dir, stopSignal: container.stopSignal });
  }
  return { status: criContainerStatus(container), info };
}
