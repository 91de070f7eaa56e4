import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { toolThread } from './tool-thread-client';
import { unlessAbsentSync } from './unless-absent';

/** Bytes allocated on disk, and inodes, under a directory. */
export interface TreeUsage {
  bytes: number;
  inodes: number;
}

/** On the tool thread: see treeUsage. */
export function treeUsageSync(dir: string): TreeUsage {
  const seen = new Set<number>();
  const top = unlessAbsentSync(() => lstatSync(dir), undefined);
  if (top === undefined) return { bytes: 0, inodes: 0 };
  let bytes = 0;
  const walk = (path: string): void => {
    const stats = unlessAbsentSync(() => lstatSync(path), undefined);
    if (!stats || stats.dev !== top.dev || seen.has(stats.ino)) return;
    seen.add(stats.ino);
    bytes += stats.blocks * 512;
    if (!stats.isDirectory()) return;
    for (const entry of unlessAbsentSync(() => readdirSync(path), [])) walk(join(path, entry));
  };
  walk(dir);
  return { bytes, inodes: seen.size };
}

/**
 * Bytes allocated on disk and inodes used by everything under `dir` (hard links counted once),
 * on `dir`'s own filesystem only: another filesystem mounted inside is not counted. Entries
 * removed while the walk runs are passed over, and a `dir` removed before it uses nothing. The
 * walk runs on the tool thread, one synchronous call per file.
 */
export function treeUsage(dir: string): Promise<TreeUsage> {
  return toolThread.run('walk', dir);
}
