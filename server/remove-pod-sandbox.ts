import type { RemovePodSandboxRequest, RemovePodSandboxResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { removePod } from './pod-teardown';

// CRI: removing a pod that is already gone must succeed.
export async function removePodSandbox(ctx: ServerContext, request: RemovePodSandboxRequest): Promise<RemovePodSandboxResponse> {
  const pod = ctx.state.pods.find(request.podSandboxId);
  if (!pod) return {};
  await removePod(ctx, pod);
  return {};
}
