import type { PodSandboxStatusRequest, PodSandboxStatusResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { observedPod } from './pod-sandbox';
import { podStatusSnapshot } from './pod-status-snapshot';

export async function podSandboxStatus(ctx: ServerContext, request: PodSandboxStatusRequest): Promise<PodSandboxStatusResponse> {
  const pod = observedPod(ctx, ctx.state.pods.get(request.podSandboxId));
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
  // With a timestamp the kubelet's evented PLEG takes the containers from here, not ContainerStatus.
  const { status, containersStatuses, timestamp } = podStatusSnapshot(ctx, pod);
  return { status, info, containersStatuses, timestamp };
}
