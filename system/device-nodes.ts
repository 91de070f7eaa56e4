// Imports nothing of the project's: the guest agent uses it too (scripts/guest-assets.mjs).
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A character or block device node, as an OCI spec's linux.devices lists it. */
export interface DeviceNode {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

// Linux's dev_t: minor in bits 0-7 and 20-31, major in bits 8-19 and 32-43.
function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}

function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

/** The node `stats` describe, to be made at `path`; undefined when it is not a device. */
export function deviceNodeOf(path: string, stats: Stats): DeviceNode | undefined {
  if (!stats.isCharacterDevice() && !stats.isBlockDevice()) return undefined;
  return { path, type: stats.isCharacterDevice() ? 'c' : 'b', major: major(stats.rdev), minor: minor(stats.rdev), fileMode: stats.mode & 0o777, uid: stats.uid, gid: stats.gid };
}

// Under /dev but not devices to hand on: pseudo-terminals, shared memory and message queues are
// the container's own mounts, fd is a link farm, the rest belong to other container managers
// (containerd and CRI-O skip the same).
const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
// The runtime gives the container a console of its own.
const SKIPPED_FILES = new Set(['console']);

/**
 * Every character and block device node below `dir` (/dev), at the same paths: what a
 * privileged container sees. Symbolic links are not followed; entries that vanish while being
 * read are skipped.
 */
export async function deviceNodesBelow(dir = '/dev'): Promise<DeviceNode[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found = await Promise.all(
    entries.map(async (entry): Promise<DeviceNode[]> => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return SKIPPED_DIRS.has(entry.name) ? [] : deviceNodesBelow(path);
      if (SKIPPED_FILES.has(entry.name) || !(entry.isCharacterDevice() || entry.isBlockDevice())) return [];
      const stats = await lstat(path).catch(() => undefined);
      const node = stats && deviceNodeOf(path, stats);
      return node ? [node] : [];
    }),
  );
  return found.flat();
}
