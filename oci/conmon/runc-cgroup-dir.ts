import { slicePath } from '../cgroups/systemd-slice';

/**
 * The cgroup directory (relative to the hierarchy root, the same under v1 and v2) that runc makes
 * for a cgroupsPath. A plain path is used as it is; runc's systemd form "slice:prefix:name" is a
 * scope unit <prefix>-<name>.scope in the slice, and a slice's directory nests its dash-separated
 * parents (a-b.slice is /a.slice/a-b.slice).
 */
export function runcCgroupDir(cgroupsPath: string): string {
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) return cgroupsPath;
  const [slice, prefix, name] = parts;
  const parent = slicePath(slice);
  return `${parent === '/' ? '' : parent}/${prefix}-${name}.scope`;
}
