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
    // The handler answers the pid from what it learnt at the start, not from the runtime: the
    // kubelet asks this often. The handler may have forgotten the container while it is being
    // removed (the record goes last), and the bundle may be gone at any time: the answer is
    // then the record's alone.
    const [pid, spec] = await Promise.all([
      container.state === 'running' ? handlerOf(ctx, container).containerPid(container.id).catch(() => undefined) : undefined,
      container.runtimeSpec ?? readFile(join(containerBundle(ctx, container.id), 'config.json'), 'utf8').then((text): unknown => JSON.parse(text), () => undefined),
    ]);
    info.info = JSON.stringify({ name: container.name, pid, rootfs: container.dir, stopSignal: container.stopSignal, runtimeSpec: spec });
  }
  return { status: criContainerStatus(ctx.images, container), info };
}
