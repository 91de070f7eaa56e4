import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writing } from '../system/disk-full';
import { makeDirectories } from '../system/make-directories';
import { unmountAll } from '../system/mount-cleanup';
import { runToolChecked } from '../system/run-tool';
import { treeUsage } from '../system/tree-usage';

export interface ContainerRootfs {
  /** `<root>/containers/<id>`: everything the container's filesystem owns lives here. */
  dir: string;
  /** `dir/merged`, the overlay the container sees as `/`. */
  mountPoint: string;
  upper: string;
  work: string;
}

const MOUNT_TIMEOUT_MS = 30_000;
// Layer links live in `dir/l` under short names so that even a deep image keeps the overlay
// option string well inside the kernel's one-page limit for mount data.
const LINKS = 'l';
const EMPTY_LOWER = 'empty';

/** The paths of the root filesystem kept in `dir`, mounted or not. */
export function rootfsPaths(dir: string): ContainerRootfs {
  return { dir, mountPoint: join(dir, 'merged'), upper: join(dir, 'upper'), work: join(dir, 'work') };
}

/** Links each layer as `l/<index>` and returns the lowerdir list, relative to `dir`. */
async function linkLayers(dir: string, layerDirs: string[]): Promise<string[]> {
  if (layerDirs.length === 0) {
    await makeDirectories(join(dir, EMPTY_LOWER));
    return [EMPTY_LOWER];
  }
  await makeDirectories(join(dir, LINKS));
  const names: string[] = [];
  for (const [index, layerDir] of layerDirs.entries()) {
    const name = `${LINKS}/${index.toString(36)}`;
    await rm(join(dir, name), { force: true });
    await symlink(layerDir, join(dir, name));
    names.push(name);
  }
  // Overlay lists the uppermost lower layer first; images list their base layer first.
  return names.reverse();
}

/**
 * Mounts an overlay at `dir/merged` whose lower layers are `layerDirs`, given in image order
 * (base layer first, so a later layer's files hide an earlier one's), with the container's
 * writable layer in `dir/upper`. An image without layers gets an empty lower directory.
 */
export async function mountRootfs(dir: string, layerDirs: string[]): Promise<ContainerRootfs> {
  const rootfs = rootfsPaths(dir);
  const lower = await writing(`a container's root filesystem in ${dir}`, async () => {
    await Promise.all([rootfs.mountPoint, rootfs.upper, rootfs.work].map((path) => makeDirectories(path)));
    return linkLayers(dir, layerDirs);
  });
  // Relative paths resolve against the mount program's working directory, hence `cwd`.
  const options = `lowerdir=${lower.join(':')},upperdir=upper,workdir=work`;
  await runToolChecked('mount', ['-t', 'overlay', 'overlay', '-o', options, rootfs.mountPoint], {
    timeoutMs: MOUNT_TIMEOUT_MS,
    cwd: dir,
  });
  return rootfs;
}

/** Unmounts the container's root filesystem, and anything mounted inside it; idempotent. */
export async function unmountRootfs(rootfs: ContainerRootfs): Promise<void> {
  await unmountAll(rootfs.mountPoint, true);
}

/** Unmounts and deletes everything under the rootfs directory; idempotent. */
export async function removeRootfs(rootfs: ContainerRootfs): Promise<void> {
  await unmountRootfs(rootfs);
  await rm(rootfs.dir, { recursive: true, force: true });
}

/** What the container has written: the allocated bytes and inodes of its upper layer. */
export async function writableLayerUsage(rootfs: ContainerRootfs): Promise<{ bytes: number; inodes: number }> {
  return treeUsage(rootfs.upper);
}
