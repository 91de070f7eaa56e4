import { realpath } from 'node:fs/promises';
import { readMountInfo } from '../system/mountinfo';
import { unlessAbsent } from '../system/unless-absent';

export interface FsUsage {
  /** The mount point of the filesystem holding the directory. */
  mountpoint: string;
  bytes: number;
  inodes: number;
}

/** The deepest mount point containing `dir`, from the mount table; a `dir` removed meanwhile is on the one its path names. */
export async function mountPointOf(dir: string): Promise<string> {
  const real = await unlessAbsent(realpath(dir), dir);
  let best = '/';
  for (const { mountPoint } of await readMountInfo()) {
    const inside = real === mountPoint || real.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
    if (inside && mountPoint.length > best.length) best = mountPoint;
  }
  return best;
}
