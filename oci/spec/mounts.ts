import { mkdir, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { type ContainerConfig, type Mount, MountPropagation } from '../../proto/gen/cri-api-v1';
import { errorCode } from '../../system/error-code';
import { InvalidArgumentError, UnimplementedError } from '../../system/errors';
import type { OciMount } from './oci-types';

export interface PodMountFiles {
  shm?: string;
  resolvConf: string;
  hosts: string;
  hostname: string;
}

// Same size runc's own default config gives /dev and a private /dev/shm.
const SMALL_TMPFS = 'size=65536k';
const NO_EXEC = ['nosuid', 'noexec', 'nodev'];

/** The kernel filesystems every container gets; sysfs and cgroupfs are read-only unless privileged. */
function kernelMounts(privileged: boolean): OciMount[] {
  const access = privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: NO_EXEC },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', SMALL_TMPFS] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: NO_EXEC },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: [...NO_EXEC, access] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...NO_EXEC, 'relatime', access] },
  ];
}

/**
 * The pod's shared files: /dev/shm (the pod's, or a private tmpfs when the pod has none) and the
 * network identity files, read-only when the root filesystem is, so a read-only container cannot
 * change what its pod mates see either.
 */
function podMounts(files: PodMountFiles, readonlyRootfs: boolean): OciMount[] {
  const access = readonlyRootfs ? 'ro' : 'rw';
  const shm: OciMount = files.shm
    ? { destination: '/dev/shm', type: 'bind', source: files.shm, options: ['rbind', 'rprivate', ...NO_EXEC, 'rw'] }
    : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: [...NO_EXEC, 'mode=1777', SMALL_TMPFS] };
  const bind = (destination: string, source: string): OciMount => ({ destination, type: 'bind', source, options: ['rbind', 'rprivate', access] });
  return [shm, bind('/etc/resolv.conf', files.resolvConf), bind('/etc/hosts', files.hosts), bind('/etc/hostname', files.hostname)];
}

/**
 * How the container's root mount must propagate for its CRI mounts to work: a bidirectional
 * mount needs a shared root (else mounts made inside never reach the host), a host-to-container
 * one a slave root; undefined leaves runc's private default.
 */
export function rootfsPropagation(config: ContainerConfig): string | undefined {
  const modes = new Set(config.mounts.map((mount) => mount.propagation));
  if (modes.has(MountPropagation.PROPAGATION_BIDIRECTIONAL)) return 'rshared';
  if (modes.has(MountPropagation.PROPAGATION_HOST_TO_CONTAINER)) return 'rslave';
  return undefined;
}

const PROPAGATION: Record<number, string> = {
  [MountPropagation.PROPAGATION_PRIVATE]: 'rprivate',
  [MountPropagation.PROPAGATION_HOST_TO_CONTAINER]: 'rslave',
  [MountPropagation.PROPAGATION_BIDIRECTIONAL]: 'rshared',
};

function criMount(mount: Mount): OciMount {
  const where = `mount ${mount.containerPath}`;
  if (!posix.isAbsolute(mount.containerPath)) throw new InvalidArgumentError(`${where}: container_path must be absolute`);
  if (mount.hostPath === '') throw new InvalidArgumentError(`${where}: host_path is empty`);
  if (mount.image !== undefined && mount.image.image !== '') throw new UnimplementedError(`${where}: image volumes are not supported`);
  if (mount.uidMappings.length > 0 || mount.gidMappings.length > 0) throw new UnimplementedError(`${where}: ID-mapped mounts are not supported`);
  if (mount.recursiveReadOnly && !mount.readonly) throw new InvalidArgumentError(`${where}: recursive_read_only needs readonly`);
  // A mount propagated from the host could bring in mounts made later, which would not be read-only.
  if (mount.recursiveReadOnly && mount.propagation !== MountPropagation.PROPAGATION_PRIVATE) {
    throw new InvalidArgumentError(`${where}: recursive_read_only needs propagation PROPAGATION_PRIVATE`);
  }
  const propagation = PROPAGATION[mount.propagation];
  if (propagation === undefined) throw new InvalidArgumentError(`${where}: unknown propagation ${mount.propagation}`);
  const access = mount.recursiveReadOnly ? 'rro' : mount.readonly ? 'ro' : 'rw';
  return { destination: posix.normalize(mount.containerPath), type: 'bind', source: mount.hostPath, options: ['rbind', propagation, access] };
}

function depth(destination: string): number {
  return destination.split('/').filter((part) => part !== '').length;
}

/**
 * All the container's mounts: kernel filesystems, the pod's files, then the CRI's bind mounts,
 * parents before children so a nested mount is not hidden by its parent's. A CRI mount at the
 * same destination as one of ours replaces ours.
 */
export function containerMounts(config: ContainerConfig, files: PodMountFiles, privileged: boolean, readonlyRootfs: boolean): OciMount[] {
  const requested = config.mounts.map(criMount).sort((a, b) => depth(a.destination) - depth(b.destination));
  const taken = new Set(requested.map((mount) => mount.destination));
  const ours = [...kernelMounts(privileged), ...podMounts(files, readonlyRootfs)].filter((mount) => !taken.has(mount.destination));
  return [...ours, ...requested];
}

// A source whose path passes through a file (/etc/hosts/x) or loops through symbolic links.
const UNREACHABLE_SOURCE = new Set(['ENOTDIR', 'ELOOP']);

async function resolvedSource(mount: Mount): Promise<Mount> {
  try {
    return { ...mount, hostPath: await realpath(mount.hostPath) };
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  // Docker's old behaviour that the kubelet still relies on for hostPath volumes of type "":
  // a missing source is made as a directory.
  await mkdir(mount.hostPath, { recursive: true, mode: 0o755 });
  return { ...mount, hostPath: await realpath(mount.hostPath) };
}

async function prepareSource(mount: Mount): Promise<Mount> {
  return resolvedSource(mount).catch((error: unknown) => {
    if (UNREACHABLE_SOURCE.has(errorCode(error) ?? '')) throw new InvalidArgumentError(`mount ${mount.containerPath}: host_path ${mount.hostPath} cannot be reached: ${errorCode(error)}`);
    throw error;
  });
}

/**
 * Makes the CRI mounts' host paths ready to bind: missing ones are created as directories and
 * symlinks are resolved, since runc would otherwise bind whatever the link points at by the
 * time it mounts. Returns the config with the resolved paths; generateSpec takes that config.
 */
export async function prepareMountSources(config: ContainerConfig): Promise<ContainerConfig> {
  const mounts: Mount[] = [];
  for (const mount of config.mounts) {
    if (mount.hostPath === '') throw new InvalidArgumentError(`mount ${mount.containerPath}: host_path is empty`);
    mounts.push(await prepareSource(mount));
  }
  return { ...config, mounts };
}
