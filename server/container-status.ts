import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerStatusRequest, ContainerStatusResponse } from '../proto/gen/cri-api-v1';
import { containerBundle } from './container-config';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';
import { criContainerStatus } from './container-view';

export async function containerStatus(ctx: ServerContext, request: ContainerStatusRequest): Promise<ContainerStatusResponse> {
  const container = ctx.state.containers.get(request.containerId);
  const info: Record<string, string> = {};
  if (request.verbose) {
    const state = container.state === 'running' ? await handlerOf(ctx, container).containerState(container.id) : undefined;
    const spec: unknown = JSON.parse(await readFile(join(containerBundle(ctx, container.id), 'config.json'), 'utf8'));
    info.info = JSON.stringify({ name: container.name, pid: state?.pid, rootfs: container.dir, stopSignal: container.stopSignal, runtimeSpec: spec });
  }
  return { status: criContainerStatus(container), info };
}
