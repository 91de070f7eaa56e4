import { LinuxPodSandboxConfig, type UpdatePodSandboxResourcesRequest, type UpdatePodSandboxResourcesResponse } from '../proto/gen/cri-api-v1';
import { FailedPreconditionError, InvalidArgumentError } from '../system/errors';
import type { ServerContext } from './context';
import { withPod } from './object-order';
import { handlerOfPod } from './pod-sandbox';
import { loadedConfig, storedConfig } from './pod-config';
import { checkResources } from './request-validation';

// Pod-level resize. The kubelet has resized the pod cgroups it made by now; the handler fits
// what it runs the pod in, then the record takes the new resources, so a restart (a VM's
// wanted size) and PodSandboxStatus go by them.
export async function updatePodSandboxResources(ctx: ServerContext, request: UpdatePodSandboxResourcesRequest): Promise<UpdatePodSandboxResourcesResponse> {
  if (!request.resources && !request.overhead) throw new InvalidArgumentError('UpdatePodSandboxResources: neither resources nor overhead is given');
  checkResources(request.resources, 'resources');
  checkResources(request.overhead, 'overhead');
  const resources = { resources: request.resources, overhead: request.overhead };
  await withPod(ctx, request.podSandboxId, async (pod) => {
    if (pod.state !== 'ready') throw new FailedPreconditionError(`pod sandbox ${pod.id} is not ready`);
    await handlerOfPod(ctx, pod).updatePodResources(pod.id, resources);
    await ctx.state.pods.update(pod.id, (current) => {
      const config = loadedConfig(current.config);
      return { ...current, config: storedConfig({ ...config, linux: LinuxPodSandboxConfig.fromPartial({ ...config.linux, ...resources }) }) };
    });
    ctx.logger.info('pod sandbox resources updated', { pod_id: pod.id });
  });
  return {};
}
