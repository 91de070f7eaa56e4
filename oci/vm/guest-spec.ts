import { join, relative } from 'node:path';
import type { OciMount, OciNamespace, OciSpec } from '../spec/oci-types';
import { GUEST_SHARED_DIR } from './guest-paths';

/** A host path the guest must see, and where in the shared directory it is bind-mounted. */
export interface SharedBind {
  source: string;
  /** Relative to the pod's shared directory. */
  target: string;
  readOnly: boolean;
  /** The source is a file, so the mount point must be a file too. */
  file: boolean;
}

export interface GuestSpec {
  spec: OciSpec;
  binds: SharedBind[];
}

// In the guest the VM is the pod: its network, IPC and UTS namespaces are the pod's, so the
// containers share the guest's own instead of joining files that name the host's.
const POD_WIDE_IN_GUEST = new Set<OciNamespace['type']>(['network', 'ipc', 'uts']);

function isBind(mount: OciMount): boolean {
  return mount.type === 'bind' || mount.options.includes('bind') || mount.options.includes('rbind');
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith('/');
}

/**
 * The host's OCI spec of a container, rewritten for the OCI runtime inside the pod's VM: the
 * root filesystem and every bind mount's source reach the guest through the pod's shared
 * directory (the host bind-mounts each `binds` entry there first), as Kata shares container
 * mounts; host-only parts (namespace files, AppArmor and SELinux labels, the host's cgroup
 * path, hooks) are dropped or replaced by the guest's own.
 *
 * `fileSources` names the bind sources that are files rather than directories.
 */
export function guestSpec(spec: OciSpec, containerId: string, sharedDir: string, fileSources: ReadonlySet<string>): GuestSpec {
  const guestPath = (target: string): string => join(GUEST_SHARED_DIR, target);
  const binds: SharedBind[] = [{ source: spec.root.path, target: join(containerId, 'rootfs'), readOnly: false, file: false }];
  const mounts = spec.mounts.map((mount, index): OciMount => {
    if (!isBind(mount)) return mount;
    // The pod's own files (hosts, resolv.conf, hostname) already live in the shared directory.
    if (inside(sharedDir, mount.source)) return { ...mount, source: guestPath(relative(sharedDir, mount.source)) };
    const target = join(containerId, 'mounts', String(index));
    binds.push({ source: mount.source, target, readOnly: mount.options.includes('ro'), file: fileSources.has(mount.source) });
    return { ...mount, source: guestPath(target) };
  });
  const { apparmorProfile: _apparmor, selinuxLabel: _selinux, ...process } = spec.process;
  const { mountLabel: _mountLabel, rootfsPropagation: _propagation, ...linux } = spec.linux;
  return {
    binds,
    spec: {
      ...spec,
      root: { ...spec.root, path: guestPath(binds[0].target) },
      process,
      mounts,
      linux: {
        ...linux,
        namespaces: spec.linux.namespaces.filter((namespace) => !POD_WIDE_IN_GUEST.has(namespace.type)),
        // The guest's cgroups are its own; the host's path means nothing there.
        cgroupsPath: `/podvisor/${containerId}`,
        // The pod's sysctls are set on the guest (its namespaces are the pod's): runc refuses
        // namespaced ones for a container that shares those namespaces.
        sysctl: {},
      },
      // The guest's UTS namespace is the pod's, and the agent gave it the pod's hostname.
      hostname: undefined,
    },
  };
}
