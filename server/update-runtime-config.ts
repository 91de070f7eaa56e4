import { parsePodCidrs } from '../network/pod-cidr';
import type { UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';

// The kubelet sends the node's pod CIDR once the node has one, and again whenever it changes.
// An empty one is no news (the CRI says to omit it), so what was kept stays.
export async function updateRuntimeConfig(ctx: ServerContext, request: UpdateRuntimeConfigRequest): Promise<UpdateRuntimeConfigResponse> {
  const sent = request.runtimeConfig?.networkConfig?.podCidr ?? '';
  if (sent === '') return {};
  const podCidr = parsePodCidrs(sent).join(',');
  if (podCidr === ctx.state.runtimeConfig.current.podCidr) return {};
  const previous = await ctx.state.runtimeConfig.update({ podCidr });
  if (previous.podCidr !== podCidr) ctx.logger.info('pod CIDR changed', { pod_cidr: podCidr, previous_pod_cidr: previous.podCidr });
  return {};
}
