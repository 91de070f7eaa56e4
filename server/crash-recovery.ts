// At start, what a crash left: the image layers each container record (finished or not)
// holds, and the creations cut short, each either finished (its record was saved) or undone
// from what its unfinished record said it was about to make.
import type { DaemonState } from '../state/daemon-state';
import type { RecordedLease } from '../storage/image-manager';
import { errorMessage } from '../system/errors';
import { removeContainerParts } from './container-lifecycle';
import type { ServerContext } from './context';
import { handlerOfPod } from './pod-sandbox';
import { discardUnfinishedPod } from './pod-teardown';

/** The image leases the container records name, those of unfinished creations too until they are undone. */
export function recordedLeases(state: DaemonState): RecordedLease[] {
  return [...state.containers.list(), ...state.unfinishedContainers.left()].map((container) => ({
    owner: container.id,
    image: container.imageId,
    layers: container.imageLayers,
  }));
}

async function undoContainers(ctx: ServerContext): Promise<void> {
  for (const container of ctx.state.unfinishedContainers.left()) {
    const log = { container_id: container.id, pod_id: container.podId };
    try {
      if (ctx.state.containers.find(container.id) === undefined) {
        // Its pod may be gone too; a handler forgets a container it does not know.
        const pod = ctx.state.pods.find(container.podId);
        await removeContainerParts(ctx, pod ? [handlerOfPod(ctx, pod)] : ctx.handlers.list(), container);
        await ctx.images.release(container.id);
        ctx.logger.info('unfinished container creation undone', log);
      }
      await ctx.state.unfinishedContainers.finish(container.id);
    } catch (error) {
      ctx.logger.error('cannot undo an unfinished container creation', { ...log, error: errorMessage(error) });
    }
  }
}

async function undoPods(ctx: ServerContext): Promise<void> {
  for (const pod of ctx.state.unfinishedPods.left()) {
    const log = { pod_id: pod.id, pod_name: pod.name, handler: pod.runtimeHandler };
    try {
      if (ctx.state.pods.find(pod.id) === undefined) {
        await discardUnfinishedPod(ctx, pod);
        ctx.logger.info('unfinished pod sandbox creation undone', log);
      }
      await ctx.state.unfinishedPods.finish(pod.id);
    } catch (error) {
      ctx.logger.error('cannot undo an unfinished pod sandbox creation', { ...log, error: errorMessage(error) });
    }
  }
}

/** Containers first: an unfinished one may be in an unfinished pod. */
export async function recoverFromCrash(ctx: ServerContext): Promise<void> {
  await undoContainers(ctx);
  await undoPods(ctx);
}
