// What a pod VM is given, as a user would check it: the kernel command line, what QEMU shares
// with the guest, and how a container's spec is rewritten for the guest.
import { kernelCommandLine } from '../oci/vm/kernel-params';
import { guestSpec } from '../oci/vm/guest-spec';
import { qemuArgs, type QemuVm } from '../oci/vm/qemu-args';
import type { OciSpec } from '../oci/spec/oci-types';

describe('the guest kernel command line', () => {
  test("Kata's boot-time parameters come first, and a user's parameter replaces the default with its key", () => {
    const line = kernelCommandLine([]).split(' ');
    expect(line).toEqual(expect.arrayContaining(['tsc=reliable', 'no_timer_check', 'rcupdate.rcu_expedited=1', 'quiet', 'console=ttyS0', 'panic=1']));
    const custom = kernelCommandLine(['console=hvc0', 'mitigations=off', 'quiet']).split(' ');
    expect(custom.filter((param) => param.startsWith('console='))).toEqual(['console=hvc0']);
    expect(custom.filter((param) => param === 'quiet')).toEqual(['quiet']);
    expect(custom).toContain('mitigations=off');
  });
});

describe('QEMU arguments', () => {
  const vm: QemuVm = {
    accelerator: 'tcg',
    vcpus: 2,
    memoryMiB: 512,
    kernel: '/guest/vmlinux',
    initrd: '/guest/initramfs.img',
    kernelParams: 'quiet',
    consoleLog: '/run/pod/console.log',
    qmpSocket: '/run/s/pod.qmp',
    agentSocket: '/run/s/pod.agent',
    pidFile: '/run/pod/qemu.pid',
    guestRoot: '/guest/root',
    sharedDir: '/run/pod/shared',
    network: { tapName: 'tap0_pv', mac: '02:42:ac:11:00:02' },
  };
  const fsdevs = (args: string[]): string[] => args.filter((_arg, index) => args[index - 1] === '-fsdev');

  test('the guest sees only the guest root, read-only, and its own pod\'s shared directory', () => {
    expect(fsdevs(qemuArgs(vm))).toEqual([
      'local,id=guestroot,path=/guest/root,security_model=none,readonly=on',
      'local,id=podshare,path=/run/pod/shared,security_model=passthrough,multidevs=remap',
    ]);
  });

  test('the NIC takes the CNI interface\'s MAC on the pod\'s TAP; TCG or KVM as chosen', () => {
    const args = qemuArgs(vm).join(' ');
    expect(args).toContain('-device virtio-net-pci,netdev=net0,mac=02:42:ac:11:00:02');
    expect(args).toContain('-netdev tap,id=net0,ifname=tap0_pv,script=no,downscript=no');
    expect(args).toContain('-machine q35,accel=tcg -cpu max -smp 2 -m 512M');
    expect(qemuArgs({ ...vm, accelerator: 'kvm' }).join(' ')).toContain('-machine q35,accel=kvm -cpu host');
  });

  test('a comma in a path cannot add options of its own', () => {
    expect(fsdevs(qemuArgs({ ...vm, sharedDir: '/run/a,readonly=off' }))[1]).toBe('local,id=podshare,path=/run/a,,readonly=off,security_model=passthrough,multidevs=remap');
  });
});

describe('a container spec rewritten for the guest', () => {
  const shared = '/run/podvisor/handlers/vm/pods/p1/shared';
  const spec = {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0, additionalGids: [] }, args: ['sh'], env: [], cwd: '/', capabilities: { bounding: [], effective: [], permitted: [] }, noNewPrivileges: true, apparmorProfile: 'podvisor-default' },
    root: { path: '/var/lib/podvisor/containers/c1/rootfs', readonly: false },
    hostname: 'pod',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: [] },
      { destination: '/etc/hosts', type: 'bind', source: `${shared}/pod/hosts`, options: ['rbind', 'rprivate', 'rw'] },
      { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro'] },
      { destination: '/etc/config.yaml', type: 'bind', source: '/srv/config.yaml', options: ['rbind', 'rw'] },
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

  const { spec: guest, binds } = guestSpec(spec, 'c1', shared, new Set(['/srv/config.yaml']));

  test('the root filesystem and volumes reach the guest through the shared directory, read-only ones read-only', () => {
    expect(guest.root.path).toBe('/run/podvisor/shared/c1/rootfs');
    expect(binds).toEqual([
      { source: '/var/lib/podvisor/containers/c1/rootfs', target: 'c1/rootfs', readOnly: false, file: false },
      { source: '/srv/data', target: 'c1/mounts/2', readOnly: true, file: false },
      { source: '/srv/config.yaml', target: 'c1/mounts/3', readOnly: false, file: true },
    ]);
    expect(guest.mounts.map((mount) => [mount.destination, mount.source])).toEqual([
      ['/proc', 'proc'],
      ['/etc/hosts', '/run/podvisor/shared/pod/hosts'],
      ['/data', '/run/podvisor/shared/c1/mounts/2'],
      ['/etc/config.yaml', '/run/podvisor/shared/c1/mounts/3'],
    ]);
  });

  test("nothing of the host's namespaces, labels or cgroups is left for the guest's runc", () => {
    expect(guest.linux.namespaces).toEqual([{ type: 'pid' }, { type: 'mount' }]);
    expect(guest.linux.cgroupsPath).toBe('/podvisor/c1');
    expect(guest.process.apparmorProfile).toBeUndefined();
    expect(guest.linux.mountLabel).toBeUndefined();
    expect(guest.hostname).toBeUndefined();
  });
});
