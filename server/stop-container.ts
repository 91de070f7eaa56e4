import type { StopContainerRequest, StopContainerResponse } from '../proto/gen/cri-api-v1';
import { stopContainerRecord } from './container-lifecycle';
import type { ServerContext } from './context';
import { timeoutMs } from './request-validation';

// The stop signal (the image's, default SIGTERM), then SIGKILL after `timeout` seconds.
export async function stopContainer(ctx: ServerContext, request: StopContainerRequest): Promise<StopContainerResponse> {
  const container = ctx.state.containers.get(request.containerId);
  await stopContainerRecord(ctx, container, timeoutMs(request.timeout, 'timeout'));
  return {};
}
