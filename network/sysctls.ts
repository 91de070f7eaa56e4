import { InvalidArgumentError } from '../system/errors';

/** Which of the pod's namespaces a sysctl lives in. */
export type SysctlNamespace = 'network' | 'ipc';

export interface SysctlScope {
  hostNetwork: boolean;
  hostIpc: boolean;
}

// One component of a sysctl path. Dots are allowed inside it because in the slash form they are
// part of a name (an interface such as "eth0.100"); a component made only of dots could climb
// out of /proc/sys, so it must start and end with a letter or digit.
const COMPONENT = /^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$/;

/**
 * The path components of a sysctl name. As in sysctl.d(5), a name containing '/' uses '/' as
 * its separator and keeps its dots literally; otherwise '.' separates.
 */
function componentsOf(name: string): string[] | undefined {
  const components = name.includes('/') ? name.split('/') : name.split('.');
  return components.length >= 2 && components.every((component) => COMPONENT.test(component)) ? components : undefined;
}

// The sysctls Linux keeps per namespace, as Kubernetes lists them: only these can be set for
// one pod without changing the whole node.
function namespaceOf(components: string[]): SysctlNamespace | undefined {
  const [top, second] = components;
  if (top === 'net') return 'network';
  if (top === 'fs' && second === 'mqueue' && components.length >= 3) return 'ipc';
  if (top !== 'kernel' || components.length !== 2) return undefined;
  if (second === 'sem' || second.startsWith('shm') || second.startsWith('msg')) return 'ipc';
  return undefined;
}

/** Where a valid sysctl is read and written, relative to the process's own namespaces. */
export function sysctlPath(name: string): string {
  const components = componentsOf(name);
  if (!components) throw new InvalidArgumentError(`sysctl "${name}" is not a valid sysctl name`);
  return `/proc/sys/${components.join('/')}`;
}

/** The namespace a sysctl that passed validateSysctls belongs to. */
export function sysctlNamespace(name: string): SysctlNamespace {
  const components = componentsOf(name);
  const namespace = components && namespaceOf(components);
  if (!namespace) throw new InvalidArgumentError(`sysctl "${name}" is not namespaced; a pod may not set it`);
  return namespace;
}

/** Refuses, naming it, the first sysctl a pod with this scope may not set. */
export function validateSysctls(sysctls: Record<string, string>, scope: SysctlScope): void {
  for (const [name, value] of Object.entries(sysctls)) {
    if (!componentsOf(name)) throw new InvalidArgumentError(`sysctl "${name}" is not a valid sysctl name`);
    const namespace = sysctlNamespace(name);
    if (namespace === 'network' && scope.hostNetwork) {
      throw new InvalidArgumentError(`sysctl "${name}" belongs to the network namespace; a pod on the host network may not set it`);
    }
    if (namespace === 'ipc' && scope.hostIpc) {
      throw new InvalidArgumentError(`sysctl "${name}" belongs to the IPC namespace; a pod sharing the host's IPC namespace may not set it`);
    }
    // A /proc/sys file takes one value; rather than let the kernel read only part of a
    // multi-line value, refuse it.
    if (/[\n\0]/.test(value)) throw new InvalidArgumentError(`sysctl "${name}" has a value with a line break or NUL`);
  }
}
