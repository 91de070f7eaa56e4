import type { RemovePodSandboxRequest, RemovePodSandboxResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { withPodIfAny } from './object-order';
import { removePod } from './pod-teardown';

// CRI: removing a pod that is already gone must succeed.
export async function removePodSandbox(ctx: ServerContext, request: RemovePodSandboxRequest): Promise<RemovePodSandboxResponse> {
  await withPodIfAny(ctx, request.podSandboxId, (pod) => removePod(ctx, pod));
  return {};
}
