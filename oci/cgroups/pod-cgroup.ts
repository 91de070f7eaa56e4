import { mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CgroupManager } from '../../config/config';
import { errorCode } from '../../system/error-code';
import { settle } from '../../system/settle';
import { unlessAbsent } from '../../system/unless-absent';
import { FailedPreconditionError, InternalError, InvalidArgumentError, errorMessage } from '../../system/errors';
import { type CgroupHierarchy, allHierarchyRoots, cgroupVersion, podHierarchies } from './cgroup-hierarchies';
import { podSliceName, slicePath, startSlice, stopSlice } from './systemd-slice';

export { cgroupVersion } from './cgroup-hierarchies';

export interface PodCgroup {
  manager: CgroupManager;
  /** cgroup path relative to each hierarchy root, e.g. /kubepods/besteffort/pod123 */
  path: string;
  /**
   * What removePodCgroup may remove: for cgroupfs the cgroup directories this runtime made, for
   * systemd the slice units it started. Anything the kubelet made stays for the kubelet to remove.
   */
  created: string[];
}

const DEFAULT_CGROUPFS_PARENT = '/podvisor';
const DEFAULT_SYSTEMD_PARENT = 'podvisor.slice';

// Controllers a pod's containers are limited by on a unified-only host; they have to be enabled
// in every ancestor's cgroup.subtree_control before a pod cgroup can use them.
const V2_POD_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'pids', 'hugetlb'];

// The leaf a pod's infra process runs in on a unified-only host; container cgroups are ctr-<id>.
const V2_POD_PROCESS_LEAF = 'infra';

// A cgroup is busy for a moment after its last process exits, until the kernel has finished with it.
const REMOVE_ATTEMPTS = 20;
const REMOVE_RETRY_MS = 100;

function cgroupfsPath(parent: string): string {
  if (parent.endsWith('.slice')) {
    throw new InvalidArgumentError(`cgroup parent "${parent}" is a systemd slice but cgroup_manager is cgroupfs`);
  }
  const path = posix.normalize(parent.startsWith('/') ? parent : `/${parent}`).replace(/\/+$/, '');
  // The kernel refuses a cgroup name with a line break; no control character belongs in one.
  if (path === '' || parent.split('/').includes('..') || /\p{Cc}/u.test(parent)) {
    throw new InvalidArgumentError(`cgroup parent "${parent}" is not a cgroup path below the root`);
  }
  return path;
}

async function readTrimmed(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and no process can join it
// until both are set; the parent's values are the widest it may have.
async function fillCpuset(dir: string, parentDir: string): Promise<void> {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if ((await readTrimmed(join(dir, file))) !== '') continue;
    await writeFile(join(dir, file), await readTrimmed(join(parentDir, file)));
  }
}

async function enableControllers(dir: string): Promise<void> {
  const available = (await readTrimmed(join(dir, 'cgroup.controllers'))).split(/\s+/);
  const enabled = new Set((await readTrimmed(join(dir, 'cgroup.subtree_control'))).split(/\s+/));
  for (const controller of V2_POD_CONTROLLERS) {
    if (!available.includes(controller) || enabled.has(controller)) continue;
    await writeFile(join(dir, 'cgroup.subtree_control'), `+${controller}`);
  }
}

/** Makes `path` and any missing ancestors in one hierarchy; true when the last level was made here. */
async function makeCgroupPath(hierarchy: CgroupHierarchy, path: string, unifiedOnly: boolean): Promise<boolean> {
  let parentDir = hierarchy.mountPoint;
  let made = false;
  if (unifiedOnly) await enableControllers(parentDir);
  for (const level of path.split('/').filter((part) => part !== '')) {
    const dir = join(parentDir, level);
    try {
      await mkdir(dir);
      made = true;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      made = false;
    }
    if (hierarchy.controllers.includes('cpuset') && hierarchy.version === 'v1') await fillCpuset(dir, parentDir);
    // The pod level too: its containers' cgroups get only what it enables for its children.
    if (unifiedOnly) await enableControllers(dir);
    parentDir = dir;
  }
  return made;
}

async function childCgroups(dir: string): Promise<string[]> {
  const entries = await unlessAbsent(readdir(dir, { withFileTypes: true }), []);
  return entries.filter((entry) => entry.isDirectory()).map((entry) => join(dir, entry.name));
}

/** Removes a cgroup directory and any child cgroups left in it (a container runtime that crashed). */
async function removeCgroupDir(dir: string): Promise<void> {
  for (const child of await childCgroups(dir)) await removeCgroupDir(child);
  for (let attempt = 1; ; attempt += 1) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt === REMOVE_ATTEMPTS) {
        throw new FailedPreconditionError(`cannot remove cgroup ${dir} (processes still in it?): ${errorMessage(error)}`);
      }
      await sleep(REMOVE_RETRY_MS);
    }
  }
}

// Each directory is in a hierarchy of its own, so they go at once.
async function removeCgroupDirs(dirs: string[]): Promise<void> {
  await settle(dirs.map((dir) => removeCgroupDir(dir)));
}

/** The cgroup path, or the slice, of a pod: the kubelet's parent is the pod cgroup itself; with none the pod gets its own under ours. */
function podCgroupName(manager: CgroupManager, cgroupParent: string, podId: string): string {
  // The ID becomes a path component or slice name; it must not climb out of or nest below it.
  if (!/^[A-Za-z0-9_-]+$/.test(podId)) throw new InvalidArgumentError(`pod ID "${podId}" cannot name a cgroup`);
  if (manager === 'systemd') return cgroupParent === '' ? podSliceName(DEFAULT_SYSTEMD_PARENT, podId) : cgroupParent;
  return cgroupParent === '' ? `${DEFAULT_CGROUPFS_PARENT}/pod-${podId}` : cgroupfsPath(cgroupParent);
}

async function createCgroupfsPod(path: string, ownPath: boolean): Promise<PodCgroup> {
  const unifiedOnly = (await cgroupVersion()) === 'v2';
  const created: string[] = [];
  try {
    for (const hierarchy of await podHierarchies()) {
      const made = await makeCgroupPath(hierarchy, path, unifiedOnly);
      // A directory under our own parent named for this pod is ours even if an earlier attempt made it.
      if (made || ownPath) created.push(join(hierarchy.mountPoint, path));
    }
  } catch (error) {
    await removeCgroupDirs(created).catch(() => undefined);
    throw new InternalError(`creating pod cgroup ${path}: ${errorMessage(error)}`);
  }
  return { manager: 'cgroupfs', path, created };
}

async function createSystemdPod(slice: string, podId: string): Promise<PodCgroup> {
  const started = await startSlice(slice, `podvisor pod ${podId}`);
  return { manager: 'systemd', path: slicePath(slice), created: started ? [slice] : [] };
}

/**
 * Makes the cgroup a pod's processes run in. A kubelet-given parent is used as the pod cgroup
 * itself; with no parent the pod gets its own cgroup under podvisor's.
 */
export async function createPodCgroup(manager: CgroupManager, cgroupParent: string, podId: string): Promise<PodCgroup> {
  const name = podCgroupName(manager, cgroupParent, podId);
  return manager === 'systemd' ? createSystemdPod(name, podId) : createCgroupfsPod(name, cgroupParent === '');
}

/**
 * What createPodCgroup will make, as far as it is known before it runs: what removePodCgroup
 * needs to undo a creation that a crash cut short. Levels it might make of a kubelet-given
 * parent are left out: the kubelet removes those.
 */
export async function plannedPodCgroup(manager: CgroupManager, cgroupParent: string, podId: string): Promise<PodCgroup> {
  const name = podCgroupName(manager, cgroupParent, podId);
  const own = cgroupParent === '';
  if (manager === 'systemd') return { manager, path: slicePath(name), created: own ? [name] : [] };
  return { manager, path: name, created: own ? (await podHierarchies()).map((hierarchy) => join(hierarchy.mountPoint, name)) : [] };
}

/** Removes what createPodCgroup made, never the parents; removing twice is fine. */
export async function removePodCgroup(cgroup: PodCgroup): Promise<void> {
  // The infra leaf is ours even inside a pod cgroup or slice the kubelet made.
  await removeCgroupDirs((await podHierarchies()).map((hierarchy) => join(hierarchy.mountPoint, cgroup.path, V2_POD_PROCESS_LEAF)));
  if (cgroup.manager === 'systemd') {
    for (const slice of cgroup.created) await stopSlice(slice);
    return;
  }
  await removeCgroupDirs(cgroup.created);
  // runc makes a container's cgroup in every hierarchy, named ones too, with the pod's path as
  // parent; under our own parent those pod directories are ours to take away as well.
  if (cgroup.path.startsWith(`${DEFAULT_CGROUPFS_PARENT}/`)) {
    await removeCgroupDirs((await allHierarchyRoots()).map((root) => join(root, cgroup.path)));
  }
}

/**
 * Where a pod's own process goes in one hierarchy. On a unified-only host a cgroup that hands
 * controllers to its children (the containers) may hold no processes itself, so it gets a leaf.
 */
async function podProcessDir(cgroupPath: string, hierarchy: CgroupHierarchy, unifiedOnly: boolean): Promise<string> {
  const podDir = join(hierarchy.mountPoint, cgroupPath);
  if (!unifiedOnly) return podDir;
  const leaf = join(podDir, V2_POD_PROCESS_LEAF);
  await mkdir(leaf).catch((error: unknown) => {
    if (errorCode(error) !== 'EEXIST') throw error;
  });
  return leaf;
}

/** Moves a process into the cgroup directory `dirs` names in each hierarchy, all at once. */
async function moveProcess(dirs: string[], pid: number): Promise<void> {
  await Promise.all(
    dirs.map(async (dir) => {
      const procs = join(dir, 'cgroup.procs');
      try {
        await writeFile(procs, String(pid));
      } catch (error) {
        throw new InternalError(`moving process ${pid} into ${procs}: ${errorMessage(error)}`);
      }
    }),
  );
}

/** Moves a process into the pod cgroup (PodCgroup's path) in every hierarchy, so all of its resources count for the pod. */
export async function joinPodCgroup(cgroupPath: string, pid: number): Promise<void> {
  const unifiedOnly = (await cgroupVersion()) === 'v2';
  const dirs: string[] = [];
  for (const hierarchy of await podHierarchies()) dirs.push(await podProcessDir(cgroupPath, hierarchy, unifiedOnly));
  await moveProcess(dirs, pid);
}

/**
 * Makes the cgroup `path` (below an existing pod cgroup, for a helper process of the pod) in
 * every pod hierarchy, all hierarchies at once; on failure nothing made is left.
 */
export async function makeHelperCgroup(path: string): Promise<void> {
  const [hierarchies, version] = await Promise.all([podHierarchies(), cgroupVersion()]);
  try {
    await Promise.all(hierarchies.map((hierarchy) => makeCgroupPath(hierarchy, path, version === 'v2')));
  } catch (error) {
    await removeHelperCgroup(path).catch(() => undefined);
    throw error;
  }
}

/** Moves `pid` into the cgroup makeHelperCgroup made, in every pod hierarchy. */
export async function enterHelperCgroup(path: string, pid: number): Promise<void> {
  await moveProcess((await podHierarchies()).map((hierarchy) => join(hierarchy.mountPoint, path)), pid);
}

/** Removes what makeHelperCgroup made, once its processes are gone; removing twice is fine. */
export async function removeHelperCgroup(path: string): Promise<void> {
  await removeCgroupDirs((await podHierarchies()).map((hierarchy) => join(hierarchy.mountPoint, path)));
}
