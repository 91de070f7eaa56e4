import type { PodSandboxStatusRequest, PodSandboxStatusResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { observedPod } from './pod-sandbox';
import { criPodSandboxStatus } from './pod-view';

export async function podSandboxStatus(ctx: ServerContext, request: PodSandboxStatusRequest): Promise<PodSandboxStatusResponse> {
  const pod = await observedPod(ctx, ctx.state.pods.get(request.podSandboxId));
  const info: Record<string, string> = {};
  if (request.verbose) {
    info.info = JSON.stringify({
      name: pod.name,
      namespaces: pod.namespaces,
      cgroup: pod.cgroup,
      network: pod.network ? { network: pod.network.network, configFile: pod.network.configFile, ips: pod.network.ips } : undefined,
      portMappings: pod.portMappings,
      handler: pod.runtimeHandler,
      handlerState: pod.handlerState,
    });
  }
  return { status: criPodSandboxStatus(pod), info, containersStatuses: [], timestamp: BigInt(Date.now()) * 1_000_000n };
}
