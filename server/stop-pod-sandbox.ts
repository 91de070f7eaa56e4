import type { StopPodSandboxRequest, StopPodSandboxResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { stopPod } from './pod-teardown';

// CRI: stopping a pod that is already gone must succeed.
export async function stopPodSandbox(ctx: ServerContext, request: StopPodSandboxRequest): Promise<StopPodSandboxResponse> {
  const pod = ctx.state.pods.find(request.podSandboxId);
  if (!pod) return {};
  await stopPod(ctx, pod);
  return {};
}
