import { posix } from 'node:path';
import type { CgroupManager } from '../../config/config';
import { FailedPreconditionError } from '../../system/errors';

/**
 * runc's cgroupsPath for a container in the pod cgroup `podPath`. With cgroupfs it is a plain
 * path below the pod's; with systemd it is runc's "slice:prefix:name" form, which makes a scope
 * unit podvisor-<id>.scope in the pod's slice (the last component of the pod path).
 */
export function containerCgroupsPath(podPath: string, manager: CgroupManager, containerId: string): string {
  const normalized = posix.normalize(`/${podPath}`).replace(/\/+$/, '');
  if (manager === 'cgroupfs') return `${normalized}/ctr-${containerId}`;
  const slice = posix.basename(normalized);
  if (!slice.endsWith('.slice')) throw new FailedPreconditionError(`cgroup_manager is systemd but the pod cgroup ${podPath} is not a slice`);
  return `${slice}:podvisor:${containerId}`;
}
