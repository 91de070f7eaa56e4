import type { ListPodSandboxRequest, ListPodSandboxResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { criPodSandbox } from './pod-view';

export async function listPodSandbox(ctx: ServerContext, request: ListPodSandboxRequest): Promise<ListPodSandboxResponse> {
  const filter = request.filter;
  const selector = Object.entries(filter?.labelSelector ?? {});
  const items = ctx.state.pods
    .list()
    .filter((pod) => !filter?.id || pod.id.startsWith(filter.id))
    .map(criPodSandbox)
    .filter((pod) => filter?.state === undefined || pod.state === filter.state.state)
    .filter((pod) => selector.every(([key, value]) => pod.labels[key] === value));
  return { items };
}
