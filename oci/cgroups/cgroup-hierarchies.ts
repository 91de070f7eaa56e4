import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { readMountInfo } from '../../system/mountinfo';
import { pathExists } from '../../system/path-exists';

export const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;

// The v1 controllers that limit or account a pod's resources. Named-only hierarchies such as
// name=systemd belong to the init system, so pods get no directories there.
const V1_POD_CONTROLLERS = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'devices', 'freezer', 'hugetlb']);

/** One mounted cgroup hierarchy and the controllers attached to it. */
export interface CgroupHierarchy {
  mountPoint: string;
  version: 'v1' | 'v2';
  controllers: string[];
}

/** `v2` when the cgroup root itself is the unified hierarchy (no v1 controllers mounted beside it). */
export async function cgroupVersion(root = CGROUP_ROOT): Promise<'v1' | 'v2'> {
  const stats = await statfs(root).catch(() => undefined);
  if (stats?.type === CGROUP2_SUPER_MAGIC) return 'v2';
  return (await pathExists(join(root, 'cgroup.controllers'))) ? 'v2' : 'v1';
}

/**
 * On a hybrid host (v1 hierarchies beside a v2 one at /sys/fs/cgroup/unified), the controllers
 * bound to the v2 side: those no v1 hierarchy was mounted for. Empty elsewhere.
 */
export async function hybridUnifiedControllers(): Promise<string[]> {
  const unified = join(CGROUP_ROOT, 'unified');
  if ((await cgroupVersion()) === 'v2' || (await statfs(unified).catch(() => undefined))?.type !== CGROUP2_SUPER_MAGIC) return [];
  return v2Controllers(unified);
}

async function v2Controllers(mountPoint: string): Promise<string[]> {
  const text = await readFile(join(mountPoint, 'cgroup.controllers'), 'utf8');
  return text.split(/\s+/).filter((name) => name !== '');
}

/**
 * The hierarchies a pod cgroup is made in: every v1 hierarchy carrying a pod controller and the
 * unified one. Only mounts of a hierarchy's root count, since a cgroup path is relative to that
 * root; a hierarchy mounted twice is listed once.
 */
export async function podHierarchies(): Promise<CgroupHierarchy[]> {
  const seen = new Set<string>();
  const hierarchies: CgroupHierarchy[] = [];
  for (const mount of await readMountInfo()) {
    if (mount.root !== '/' || seen.has(mount.device)) continue;
    if (mount.fsType === 'cgroup2') {
      seen.add(mount.device);
      hierarchies.push({ mountPoint: mount.mountPoint, version: 'v2', controllers: await v2Controllers(mount.mountPoint) });
    } else if (mount.fsType === 'cgroup') {
      const controllers = mount.superOptions.filter((option) => V1_POD_CONTROLLERS.has(option));
      if (controllers.length === 0) continue;
      seen.add(mount.device);
      hierarchies.push({ mountPoint: mount.mountPoint, version: 'v1', controllers });
    }
  }
  return hierarchies;
}

/** Mount points of every cgroup hierarchy's root, named ones (name=systemd) included. */
export async function allHierarchyRoots(): Promise<string[]> {
  const seen = new Set<string>();
  const roots: string[] = [];
  for (const mount of await readMountInfo()) {
    if (mount.root !== '/' || seen.has(mount.device) || (mount.fsType !== 'cgroup' && mount.fsType !== 'cgroup2')) continue;
    seen.add(mount.device);
    roots.push(mount.mountPoint);
  }
  return roots;
}
