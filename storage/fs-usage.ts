import { lstat, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { readMountInfo } from '../system/mountinfo';

export interface FsUsage {
  /** The mount point of the filesystem holding the directory. */
  mountpoint: string;
  bytes: number;
  inodes: number;
}

/** The deepest mount point containing `dir`, from the mount table. */
export async function mountPointOf(dir: string): Promise<string> {
  const real = await realpath(dir);
  let best = '/';
  for (const { mountPoint } of await readMountInfo()) {
    const inside = real === mountPoint || real.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
    if (inside && mountPoint.length > best.length) best = mountPoint;
  }
  return best;
}

/** Bytes allocated on disk and inodes used by everything under `dir` (hard links counted once). */
export async function diskUsage(dir: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<number>();
  let bytes = 0;
  const walk = async (path: string): Promise<void> => {
    const stats = await lstat(path);
    if (seen.has(stats.ino)) return;
    seen.add(stats.ino);
    bytes += stats.blocks * 512;
    if (!stats.isDirectory()) return;
    for (const entry of await readdir(path)) await walk(join(path, entry));
  };
  await walk(dir);
  return { bytes, inodes: seen.size };
}
