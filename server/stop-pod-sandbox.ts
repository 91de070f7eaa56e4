import type { StopPodSandboxRequest, StopPodSandboxResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { withPodIfAny } from './object-order';
import { stopPod } from './pod-teardown';

// CRI: stopping a pod that is already gone must succeed.
export async function stopPodSandbox(ctx: ServerContext, request: StopPodSandboxRequest): Promise<StopPodSandboxResponse> {
  await withPodIfAny(ctx, request.podSandboxId, (pod) => stopPod(ctx, pod));
  return {};
}
