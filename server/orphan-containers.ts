// At start: the image layers each container record holds, and the removal of whatever a
// container with no record left (a create or a removal cut short by a crash): its runtime
// state and processes, its root filesystem and its bundle.
import { readdir, rm } from 'node:fs/promises';
import type { DaemonState } from '../state/daemon-state';
import type { RecordedLease } from '../storage/image-manager';
import { removeRootfs, rootfsPaths } from '../storage/rootfs';
import { errorMessage } from '../system/errors';
import { unlessAbsent } from '../system/unless-absent';
import { containerBundle, containerStorage, containersStorage } from './container-config';
import type { ServerContext } from './context';

/** The image leases the container records name. */
export function recordedLeases(state: DaemonState): RecordedLease[] {
  return state.containers.list().map((container) => ({ owner: container.id, image: container.imageId, layers: container.imageLayers }));
}

async function removeOrphan(ctx: ServerContext, id: string): Promise<void> {
  // No record says which handler ran it; each one forgets a container it does not know.
  await Promise.all(ctx.handlers.list().map((handler) => handler.removeContainer(id)));
  await removeRootfs(rootfsPaths(containerStorage(ctx, id)));
  await rm(containerBundle(ctx, id), { recursive: true, force: true });
}

/** Removes what containers with no record left; their layers were never leased at this start. */
export async function sweepOrphanContainers(ctx: ServerContext): Promise<void> {
  const known = new Set(ctx.state.containers.list().map((container) => container.id));
  const orphans = (await unlessAbsent(readdir(containersStorage(ctx)), [])).filter((id) => !known.has(id));
  for (const id of orphans) {
    try {
      await removeOrphan(ctx, id);
      ctx.logger.info('container with no record removed', { container_id: id });
    } catch (error) {
      ctx.logger.error('cannot remove a container with no record', { container_id: id, error: errorMessage(error) });
    }
  }
}
