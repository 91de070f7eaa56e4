import type { StopContainerRequest, StopContainerResponse } from '../proto/gen/cri-api-v1';
import { stopContainerRecord } from './container-lifecycle';
import type { ServerContext } from './context';
import { withContainer } from './object-order';
import { timeoutMs } from './request-validation';

// The stop signal (the image's, default SIGTERM), then SIGKILL after `timeout` seconds.
export async function stopContainer(ctx: ServerContext, request: StopContainerRequest): Promise<StopContainerResponse> {
  const graceMs = timeoutMs(request.timeout, 'timeout');
  await withContainer(ctx, request.containerId, (container) => stopContainerRecord(ctx, container, graceMs));
  return {};
}
