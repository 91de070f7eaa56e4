// At start, what a crash left: the image layers each container record (finished, unfinished or
// removed) holds; the removals whose parts were still being taken apart, finished; the creations
// cut short, each either finished (its record was saved) or undone from what its unfinished
// record said it was about to make; and the containers whose records were found damaged, undone
// from their IDs alone.
import type { DaemonState } from '../state/daemon-state';
import type { RecordedLease } from '../storage/image-manager';
import { errorMessage } from '../system/errors';
import { containerStorage } from './container-config';
import { removeContainerParts, takeApart } from './container-lifecycle';
import type { ServerContext } from './context';
import { discardUnfinishedPod } from './pod-teardown';

/** The image leases the container records name, those of unfinished creations and removals too until they are done. */
export function recordedLeases(state: DaemonState): RecordedLease[] {
  return [...state.containers.list(), ...state.unfinishedContainers.left(), ...state.removedContainers.left()].map((container) => ({
    owner: container.id,
    image: container.imageId,
    layers: container.imageLayers,
  }));
}

async function undoContainers(ctx: ServerContext): Promise<void> {
  for (const container of ctx.state.unfinishedContainers.left()) {
    const log = { container_id: container.id, pod_id: container.podId };
    try {
      if (ctx.state.containers.find(container.id) !== undefined) {
        await ctx.state.unfinishedContainers.finish(container.id);
        continue;
      }
      // Its pod may be gone too.
      await takeApart(ctx, container, ctx.state.unfinishedContainers);
      ctx.logger.info('unfinished container creation undone', log);
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

/**
 * A container whose record (or unfinished record) was set aside as damaged can be neither shown
 * nor managed; what it is made of (the runtime's state, its root filesystem and bundle) is found
 * by its ID and removed, so that it does not hold its pod's cgroup or mounts.
 */
async function removeDamagedContainers(ctx: ServerContext): Promise<void> {
  const ids = new Set([...ctx.state.containers.damaged, ...ctx.state.unfinishedContainers.damaged, ...ctx.state.removedContainers.damaged]);
  for (const id of ids) {
    if (ctx.state.containers.find(id) !== undefined) continue;
    try {
      await removeContainerParts(ctx, ctx.handlers.list(), { id, dir: containerStorage(ctx, id) });
      await ctx.images.release(id);
      ctx.logger.warn('container of a damaged record removed', { container_id: id });
    } catch (error) {
      ctx.logger.error('cannot remove the container of a damaged record', { container_id: id, error: errorMessage(error) });
    }
  }
}

/** Containers first: an unfinished one may be in an unfinished pod. */
export async function recoverFromCrash(ctx: ServerContext): Promise<void> {
  // A removal that fails again stays with ctx.removals, for its pod's removal to retry.
  await Promise.all(ctx.state.removedContainers.left().map((container) => ctx.removals.begin(ctx, container)));
  await undoContainers(ctx);
  await removeDamagedContainers(ctx);
  await undoPods(ctx);
}
