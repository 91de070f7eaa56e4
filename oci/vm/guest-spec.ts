import { join, relative } from 'node:path';
import { allowsEveryDevice } from '../spec/devices';
import type { OciMount, OciNamespace, OciSpec } from '../spec/oci-types';
import { GUEST_LOCAL_PATHS, GUEST_SHARED_DIR, GUEST_VOLUMES_DIR } from './guest-paths';

/** A host path the guest must see, and where in the shared directory it is bind-mounted. */
export interface SharedBind {
  source: string;
  /** Relative to the pod's shared directory. */
  target: string;
  readOnly: boolean;
  /** The source is a file, so the mount point must be a file too. */
  file: boolean;
}

/**
 * A pod volume made in the guest instead of shared from the host, as Kata's storage types:
 * `ephemeral` (a kubelet emptyDir with medium Memory, a tmpfs on the host) becomes one tmpfs in
 * the guest, `local` (any other kubelet emptyDir) a directory of the guest's own. Containers of
 * the pod that mount the same volume share it.
 */
export interface GuestVolume {
  name: string;
  kind: 'ephemeral' | 'local';
}

/** What the host found of a bind mount's source. */
export interface MountSource {
  file: boolean;
  /** A tmpfs is mounted right there. */
  tmpfs: boolean;
}

export interface GuestSpec {
  spec: OciSpec;
  binds: SharedBind[];
  volumes: GuestVolume[];
  /** Privileged: the agent gives the container every device node of the guest's /dev. */
  guestDevices: boolean;
}

// The kubelet makes each emptyDir volume at pods/UID/volumes/kubernetes.io~empty-dir/NAME.
const EMPTY_DIR = /\/volumes\/kubernetes\.io~empty-dir\/([^/]+)\/?$/;

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
 * path, hooks, a privileged container's host devices) are dropped or replaced by the guest's own.
 *
 * `sources` has what the host found of each bind mount's source; one missing is a directory.
 */
export function guestSpec(spec: OciSpec, containerId: string, sources: ReadonlyMap<string, MountSource>): GuestSpec {
  const guestPath = (target: string): string => join(GUEST_SHARED_DIR, target);
  const binds: SharedBind[] = [{ source: spec.root.path, target: join(containerId, 'rootfs'), readOnly: false, file: false }];
  const volumes = new Map<string, GuestVolume>();
  const mounts = spec.mounts.map((mount, index): OciMount => {
    // Made in the guest by the agent (the pod's /dev/shm, hosts, resolv.conf): nothing of the host's.
    if (!isBind(mount) || GUEST_LOCAL_PATHS.some((path) => mount.source === path || inside(path, mount.source))) return mount;
    const source = sources.get(mount.source) ?? { file: false, tmpfs: false };
    const emptyDir = EMPTY_DIR.exec(mount.source)?.[1];
    if (emptyDir !== undefined && !source.file) {
      const volume: GuestVolume = { name: emptyDir, kind: source.tmpfs ? 'ephemeral' : 'local' };
      volumes.set(`${volume.kind}/${volume.name}`, volume);
      return { ...mount, source: join(GUEST_VOLUMES_DIR, volume.kind, volume.name) };
    }
    const target = join(containerId, 'mounts', String(index));
    binds.push({ source: mount.source, target, readOnly: mount.options.includes('ro'), file: source.file });
    return { ...mount, source: guestPath(target) };
  });
  const { apparmorProfile: _apparmor, selinuxLabel: _selinux, ...process } = spec.process;
  const { mountLabel: _mountLabel, rootfsPropagation: _propagation, ...linux } = spec.linux;
  // The host's device nodes a privileged container was given mean nothing in the guest: it gets the guest's.
  const guestDevices = allowsEveryDevice(spec.linux.resources.devices);
  return {
    binds,
    volumes: [...volumes.values()],
    guestDevices,
    spec: {
      ...spec,
      root: { ...spec.root, path: guestPath(binds[0].target) },
      process,
      mounts,
      linux: {
        ...linux,
        // A cgroup namespace of its own: the container sees its own cgroup (and its limits) at /sys/fs/cgroup, as on a cgroup v2 host.
        namespaces: [...spec.linux.namespaces.filter((namespace) => !POD_WIDE_IN_GUEST.has(namespace.type) && namespace.type !== 'cgroup'), { type: 'cgroup' }],
        // The guest's cgroups are its own; the host's path means nothing there.
        cgroupsPath: `/podvisor/${containerId}`,
        devices: guestDevices ? [] : spec.linux.devices,
        // The pod's sysctls are set on the guest (its namespaces are the pod's): runc refuses
        // namespaced ones for a container that shares those namespaces.
        sysctl: {},
      },
      // The guest's UTS namespace is the pod's, and the agent gave it the pod's hostname.
      hostname: undefined,
    },
  };
}
