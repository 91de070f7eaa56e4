import { lstat, readFile, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';

export interface FsUsage {
  /** The mount point of the filesystem holding the directory. */
  mountpoint: string;
  bytes: number;
  inodes: number;
}

/** Mount points appear octal-escaped in mountinfo (a space is \040). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The deepest mount point containing `dir`, from the mount table. */
export async function mountPointOf(dir: string): Promise<string> {
  const real = await realpath(dir);
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  let best = '/';
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const mount = unescapeMountPath(field);
    const inside = real === mount || real.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
    if (inside && mount.length > best.length) best = mount;
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
