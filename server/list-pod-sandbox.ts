import type { ListPodSandboxRequest, ListPodSandboxResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { matchingPods } from './filters';
import { observedPod } from './pod-sandbox';
import { criPodSandbox } from './pod-view';

export async function listPodSandbox(ctx: ServerContext, request: ListPodSandboxRequest): Promise<ListPodSandboxResponse> {
  const state = request.filter?.state;
  const items = matchingPods(ctx, request.filter)
    .map((pod) => criPodSandbox(observedPod(ctx, pod)))
    .filter((pod) => state === undefined || pod.state === state.state);
  return { items };
}
