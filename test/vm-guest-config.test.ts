// How a container's spec is rewritten for the guest, as a user would check it (the kernel command
// line and QEMU's arguments have their own tests: kernel-params, qemu-args).
import { guestSpec } from '../oci/vm/guest-spec';
import type { OciSpec } from '../oci/spec/oci-types';

describe('a container spec rewritten for the guest', () => {
  const spec = {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0, additionalGids: [] }, args: ['sh'], env: [], cwd: '/', capabilities: { bounding: [], effective: [], permitted: [] }, noNewPrivileges: true, apparmorProfile: 'podvisor-default' },
    root: { path: '/var/lib/podvisor/containers/c1/rootfs', readonly: false },
    hostname: 'pod',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: [] },
      { destination: '/etc/hosts', type: 'bind', source: '/run/podvisor/pod/hosts', options: ['rbind', 'rprivate', 'rw'] },
      { destination: '/dev/shm', type: 'bind', source: '/run/podvisor/shm', options: ['rbind', 'rprivate', 'rw'] },
      { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro'] },
      { destination: '/etc/config.yaml', type: 'bind', source: '/srv/config.yaml', options: ['rbind', 'rw'] },
      { destination: '/cache', type: 'bind', source: '/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/cache', options: ['rbind', 'rw'] },
      { destination: '/scratch', type: 'bind', source: '/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/scratch', options: ['rbind', 'rw'] },
    ],
    annotations: {},
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/pod' }, { type: 'ipc', path: '/run/ns/ipc/p1' }, { type: 'uts', path: '/run/ns/uts/p1' }, { type: 'mount' }],
      resources: { devices: [], hugepageLimits: [] },
      cgroupsPath: 'podvisor.slice:pod:c1',
      devices: [],
      maskedPaths: [],
      readonlyPaths: [],
      sysctl: {},
      mountLabel: 'system_u:object_r:container_file_t:s0',
    },
  } as OciSpec;

  const sources = new Map([
    ['/srv/config.yaml', { file: true, tmpfs: false }],
    ['/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/cache', { file: false, tmpfs: true }],
  ]);
  const { spec: guest, binds, volumes } = guestSpec(spec, 'c1', sources);

  test("the root filesystem and volumes reach the guest through the shared directory, read-only ones read-only; the pod's files and /dev/shm are the guest's own", () => {
    expect(guest.root.path).toBe('/run/podvisor/shared/c1/rootfs');
    expect(binds).toEqual([
      { source: '/var/lib/podvisor/containers/c1/rootfs', target: 'c1/rootfs', readOnly: false, file: false },
      { source: '/srv/data', target: 'c1/mounts/3', readOnly: true, file: false },
      { source: '/srv/config.yaml', target: 'c1/mounts/4', readOnly: false, file: true },
    ]);
    expect(guest.mounts.map((mount) => [mount.destination, mount.source])).toEqual([
      ['/proc', 'proc'],
      ['/etc/hosts', '/run/podvisor/pod/hosts'],
      ['/dev/shm', '/run/podvisor/shm'],
      ['/data', '/run/podvisor/shared/c1/mounts/3'],
      ['/etc/config.yaml', '/run/podvisor/shared/c1/mounts/4'],
      ['/cache', '/run/podvisor/volumes/ephemeral/cache'],
      ['/scratch', '/run/podvisor/volumes/local/scratch'],
    ]);
  });

  test("a kubelet emptyDir is made in the guest, not shared: a tmpfs one as a tmpfs (ephemeral), any other as the guest's own directory (local)", () => {
    expect(volumes).toEqual([
      { name: 'cache', kind: 'ephemeral' },
      { name: 'scratch', kind: 'local' },
    ]);
    expect(binds.map((bind) => bind.source)).not.toContain('/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/cache');
  });

  test("nothing of the host's namespaces, labels or cgroups is left for the guest's runc", () => {
    expect(guest.linux.namespaces).toEqual([{ type: 'pid' }, { type: 'mount' }, { type: 'cgroup' }]);
    expect(guest.linux.cgroupsPath).toBe('/podvisor/c1');
    expect(guest.process.apparmorProfile).toBeUndefined();
    expect(guest.linux.mountLabel).toBeUndefined();
    expect(guest.hostname).toBeUndefined();
  });

  test("a privileged container's host device nodes are dropped: the agent gives it the guest's", () => {
    const privileged = {
      ...spec,
      linux: { ...spec.linux, devices: [{ path: '/dev/kvm', type: 'c', major: 10, minor: 232 }], resources: { devices: [{ allow: true, access: 'rwm' }], hugepageLimits: [] } },
    } as OciSpec;
    const forPrivileged = guestSpec(privileged, 'c1', sources);
    expect([forPrivileged.guestDevices, forPrivileged.spec.linux.devices]).toEqual([true, []]);
    expect(guestSpec(spec, 'c1', sources).guestDevices).toBe(false);
  });
});
