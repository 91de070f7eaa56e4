import { FailedPreconditionError, InvalidArgumentError } from '../../system/errors';
import { CommandFailedError, runToolChecked } from '../../system/run-tool';

const SLICE_SUFFIX = '.slice';
const BUS_TIMEOUT_MS = 30_000;
const MANAGER_CALL = ['call', '--timeout=25', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager'];

/**
 * The cgroup path systemd gives a slice unit. A dash in a slice name means nesting: every
 * dash-separated prefix is a parent slice, so a-b-c.slice lives at /a.slice/a-b.slice/a-b-c.slice.
 */
export function slicePath(slice: string): string {
  if (slice === `-${SLICE_SUFFIX}`) return '/';
  const name = slice.endsWith(SLICE_SUFFIX) ? slice.slice(0, -SLICE_SUFFIX.length) : '';
  if (name === '' || name.includes('/') || name.startsWith('-') || name.endsWith('-') || name.includes('--')) {
    throw new InvalidArgumentError(`cgroup parent "${slice}" is not a systemd slice name such as kubepods-besteffort.slice`);
  }
  let prefix = '';
  const levels: string[] = [];
  for (const part of name.split('-')) {
    prefix = prefix === '' ? part : `${prefix}-${part}`;
    levels.push(`${prefix}${SLICE_SUFFIX}`);
  }
  return `/${levels.join('/')}`;
}

/** A slice for one pod nested in `parent`; dashes in the pod ID would nest it further, so they become underscores. */
export function podSliceName(parent: string, podId: string): string {
  const parentName = parent === `-${SLICE_SUFFIX}` ? '' : `${parent.slice(0, -SLICE_SUFFIX.length)}-`;
  return `${parentName}pod${podId.replaceAll('-', '_')}${SLICE_SUFFIX}`;
}

async function callManager(args: string[]): Promise<void> {
  try {
    await runToolChecked('busctl', [...MANAGER_CALL, ...args], { timeoutMs: BUS_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof CommandFailedError && /failed to connect to bus/i.test(error.stderr)) {
      throw new FailedPreconditionError(`cgroup_manager is systemd but systemd is not reachable over D-Bus: ${error.stderr}`);
    }
    throw error;
  }
}

/** Starts `slice` as a transient unit; false when the unit exists already (made by the kubelet, say). */
export async function startSlice(slice: string, description: string): Promise<boolean> {
  try {
    await callManager(['StartTransientUnit', 'ssa(sv)a(sa(sv))', slice, 'fail', '1', 'Description', 's', description, '0']);
    return true;
  } catch (error) {
    if (error instanceof CommandFailedError && /already exists/i.test(error.stderr)) return false;
    throw error;
  }
}

/** Stops a slice this runtime started; a slice already gone is not an error. */
export async function stopSlice(slice: string): Promise<void> {
  try {
    await callManager(['StopUnit', 'ss', slice, 'fail']);
  } catch (error) {
    if (error instanceof CommandFailedError && /not loaded|not found/i.test(error.stderr)) return;
    throw error;
  }
}
