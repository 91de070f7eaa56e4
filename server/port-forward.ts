import type { PortForwardRequest, PortForwardResponse } from '../proto/gen/cri-api-v1';
import { FailedPreconditionError, InvalidArgumentError } from '../system/errors';
import { MAX_PORT, isPort } from '../system/tcp-port';
import type { ServerContext } from './context';
import { handlerOfPod, observedPod } from './pod-sandbox';

/** PortForward: a URL on our streaming server whose connections reach ports on the pod's localhost. */
export async function portForward(ctx: ServerContext, request: PortForwardRequest): Promise<PortForwardResponse> {
  const pod = observedPod(ctx, ctx.state.pods.get(request.podSandboxId));
  if (pod.state !== 'ready') throw new FailedPreconditionError(`pod sandbox ${pod.id} is not ready`);
  const bad = request.port.find((port) => !isPort(port));
  if (bad !== undefined) throw new InvalidArgumentError(`PortForward: port ${bad} is not from 1 to ${MAX_PORT}`);
  const handler = handlerOfPod(ctx, pod);
  const url = ctx.streams.issue({
    kind: 'portforward',
    podId: pod.id,
    ports: request.port,
    forward: (connection) => handler.portForward(pod.id, connection),
  });
  return { url };
}
