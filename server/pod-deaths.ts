// Sandboxes that die on their own (a pod's infra process killed, its VM gone): each is recorded
// and told to GetContainerEvents streams once, as containerd does when a sandbox's task exits,
// so an event-fed kubelet learns of it without waiting for a relist.
import { ContainerEventType } from '../proto/gen/cri-api-v1';
import { errorMessage } from '../system/errors';
import { nowNanos } from './container-config';
import type { ServerContext } from './context';
import { withPodIfAny } from './object-order';

/**
 * Records that the pod's sandbox died, so its status, in events as in a relist, reads NOTREADY
 * from now on. A pod stopped meanwhile (the death waits for a stop under way), or recorded dead
 * already, is left as it is: no event repeats a death or doubles a stop's.
 */
export async function recordPodDeath(ctx: ServerContext, podId: string): Promise<void> {
  await withPodIfAny(ctx, podId, async (pod) => {
    if (pod.state !== 'ready' || pod.diedAt !== undefined) return;
    const died = { ...pod, diedAt: nowNanos() };
    await ctx.state.pods.save(died);
    ctx.events.publishSandbox(ctx, died, ContainerEventType.CONTAINER_STOPPED_EVENT);
    ctx.logger.warn('pod sandbox died', { pod_id: pod.id, pod_name: pod.name, handler: pod.runtimeHandler });
  });
}

/** Follows every handler's sandbox deaths; returns the function that stops following them. */
export function followPodDeaths(ctx: ServerContext): () => void {
  const stops = ctx.handlers.list().map((handler) =>
    handler.watchPodDeaths((podId) =>
      void recordPodDeath(ctx, podId).catch((error: unknown) => ctx.logger.error('cannot record a pod sandbox death', { pod_id: podId, error: errorMessage(error) })),
    ),
  );
  return () => stops.forEach((stop) => stop());
}
