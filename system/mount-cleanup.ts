import { InternalError } from './errors';
import { readMountInfo } from './mountinfo';
import { runToolChecked } from './run-tool';

const UMOUNT_TIMEOUT_MS = 30_000;
// Mounts can be stacked on one directory; each umount takes off only the top one.
const MAX_UNMOUNTS = 64;

/**
 * Unmounts every mount at `path` and, with `below`, under it too, innermost and newest first.
 * Reads the mount table afresh each time, so a mount that someone else removed is no error.
 */
export async function unmountAll(path: string, below: boolean): Promise<void> {
  const inside = (mountPoint: string): boolean => mountPoint === path || (below && mountPoint.startsWith(`${path}/`));
  for (let round = 0; round < MAX_UNMOUNTS; round += 1) {
    const targets = (await readMountInfo()).map((mount) => mount.mountPoint).filter(inside);
    if (targets.length === 0) return;
    const deepest = targets.reduce((best, mountPoint) => (mountPoint.length >= best.length ? mountPoint : best));
    try {
      await runToolChecked('umount', [deepest], { timeoutMs: UMOUNT_TIMEOUT_MS });
    } catch (error) {
      if ((await readMountInfo()).some((mount) => mount.mountPoint === deepest)) throw error;
    }
  }
  throw new InternalError(`${path} still has mounts after ${MAX_UNMOUNTS} unmounts`);
}
