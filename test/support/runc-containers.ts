import { access, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Directories named `relative` in each cgroup v1 hierarchy (and the unified one) that exist. */
export async function cgroupDirs(relative: string): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await readdir(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, hierarchy, relative);
    if (await exists(dir)) found.push(dir);
  }
  return found;
}

/** Removes a cgroup subtree deepest first; runc removes a container's own cgroup but not its parents. */
export async function removeCgroupTree(relative: string): Promise<void> {
  for (const dir of await cgroupDirs(relative)) {
    const children = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory());
    for (const child of children) await rmdir(join(dir, child.name));
    await rmdir(dir);
  }
}

export interface TestSpecOptions {
  memoryLimit?: number;
  terminal?: boolean;
}

/** A minimal OCI spec for a busybox rootfs: its own namespaces, a cgroup, /dev/pts for terminals. */
export function testSpec(rootfs: string, args: string[], cgroupsPath: string, options: TestSpecOptions = {}): object {
  const { memoryLimit, terminal = false } = options;
  return {
    ociVersion: '1.0.2',
    process: { terminal, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/' },
    root: { path: rootfs },
    hostname: 'podvisor-test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      cgroupsPath,
      ...(memoryLimit === undefined ? {} : { resources: { memory: { limit: memoryLimit, swap: memoryLimit } } }),
    },
  };
}
