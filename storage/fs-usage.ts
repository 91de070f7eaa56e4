import { lstat, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
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

/**
 * Bytes allocated on disk and inodes used by everything under `dir` (hard links counted once),
 * on `dir`'s own filesystem only: a container's overlay mounted inside is not counted again.
 * Entries removed while the walk runs are passed over, and a `dir` removed before it (a container
 * removed while its stats were read) uses nothing.
 */
export async function diskUsage(dir: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<number>();
  const top = await unlessAbsent(lstat(dir), undefined);
  if (top === undefined) return { bytes: 0, inodes: 0 };
  const { dev } = top;
  let bytes = 0;
  const walk = async (path: string): Promise<void> => {
    const stats = await unlessAbsent(lstat(path), undefined);
    if (!stats || stats.dev !== dev || seen.has(stats.ino)) return;
    seen.add(stats.ino);
    bytes += stats.blocks * 512;
    if (!stats.isDirectory()) return;
    for (const entry of await unlessAbsent(readdir(path), [])) await walk(join(path, entry));
  };
  await walk(dir);
  return { bytes, inodes: seen.size };
}
