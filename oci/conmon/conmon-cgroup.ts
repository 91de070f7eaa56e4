import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { writeFileAtomic } from '../../system/atomic-file';
import { errorCode } from '../../system/error-code';
import { removeHelperCgroup } from '../cgroups/pod-cgroup';

// The cgroup conmon runs in is kept beside its pid file, so a restarted daemon can remove it too.
const CGROUP_FILE = 'conmon.cgroup';

/** conmon's own cgroup for one container: a child of the pod cgroup, beside the container's. */
export function conmonCgroupPath(podCgroupPath: string, id: string): string {
  return posix.join(podCgroupPath, `podvisor-conmon-${id}`);
}

export function recordConmonCgroup(persistDir: string, path: string): Promise<void> {
  return writeFileAtomic(join(persistDir, CGROUP_FILE), path);
}

/** Removes the cgroup recorded in `persistDir`, if any; conmon must have exited. */
export async function removeConmonCgroup(persistDir: string): Promise<void> {
  let path: string;
  try {
    path = await readFile(join(persistDir, CGROUP_FILE), 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  await removeHelperCgroup(path);
}
