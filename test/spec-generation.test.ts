import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  ContainerConfig,
  MountPropagation,
  NamespaceMode,
  PodSandboxConfig,
  SecurityProfile_ProfileType,
  SupplementalGroupsPolicy,
} from '../proto/gen/cri-api-v1';
import { containerCapabilities } from '../oci/spec/capabilities';
import { ALL_CAPABILITIES } from '../system/linux-capabilities';
import { hostCapabilities } from '../oci/spec/host-capabilities';
import { generateSpec, prepareMountSources, type SpecInput } from '../oci/spec/generate-spec';
import type { ImageConfigJson } from '../oci/spec/image-config';
import type { OciSpec } from '../oci/spec/oci-types';
import { FailedPreconditionError, InvalidArgumentError, UnimplementedError } from '../system/errors';
import { evaluateSeccomp } from './support/seccomp-evaluate';

type ConfigPartial = Parameters<typeof ContainerConfig.fromPartial>[0];
type ContextPartial = NonNullable<NonNullable<ConfigPartial['linux']>['securityContext']>;

const DEFAULT_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];
const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'daemon:x:1:1::/:/bin/false', 'app:x:1000:1000::/home/app:/bin/sh', 'nobody:x:65534:65534::/:/bin/false', ''].join('\n');
const GROUP = ['root:x:0:', 'daemon:x:1:', 'wheel:x:10:app,root', 'audio:x:29:app', 'app:x:1000:', 'staff:x:50:', ''].join('\n');

let scratch: string;
let rootfs: string;

beforeAll(async () => {
  scratch = await mkdtemp('/tmp/podvisor-spec-');
  rootfs = join(scratch, 'rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc/passwd'), PASSWD);
  await writeFile(join(rootfs, 'etc/group'), GROUP);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function context(partial: ContextPartial): ConfigPartial['linux'] {
  return { securityContext: partial };
}

function input(config: ConfigPartial = {}, overrides: { image?: ImageConfigJson; rootfs?: string; pod?: Partial<SpecInput['pod']>; options?: Partial<SpecInput['options']>; podPrivileged?: boolean } = {}): SpecInput {
  return {
    containerId: 'c0ffee',
    config: ContainerConfig.fromPartial({ metadata: { name: 'web' }, image: { image: 'docker.io/library/nginx:1' }, ...config }),
    pod: {
      id: 'p0d',
      config: PodSandboxConfig.fromPartial({
        metadata: { name: 'frontend', namespace: 'shop', uid: 'uid-1' },
        hostname: 'frontend-host',
        linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' }, securityContext: { privileged: overrides.podPrivileged ?? false } },
      }),
      namespaces: { network: '/run/podvisor/ns/net-p0d', ipc: '/run/podvisor/ns/ipc-p0d', uts: '/run/podvisor/ns/uts-p0d' },
      pidNamespace: '/proc/4242/ns/pid',
      files: { shm: '/run/podvisor/pods/p0d/shm', resolvConf: '/run/podvisor/pods/p0d/resolv.conf', hosts: '/run/podvisor/pods/p0d/hosts', hostname: '/run/podvisor/pods/p0d/hostname' },
      cgroupPath: '/podvisor/pod-p0d',
      cgroupManager: 'cgroupfs',
      ...overrides.pod,
    },
    image: { config: overrides.image ?? { config: { Entrypoint: ['/docker-entrypoint.sh'], Cmd: ['nginx', '-g', 'daemon off;'], Env: ['PATH=/usr/local/bin:/usr/bin', 'NGINX_VERSION=1.25'] } }, rootfs: overrides.rootfs ?? rootfs },
    options: { defaultCapabilities: DEFAULT_CAPS, seccompProfileRoot: join(scratch, 'seccomp'), apparmorDefaultProfile: undefined, selinuxEnabled: false, oomScoreAdjFloor: 0, ...overrides.options },
  };
}

function spec(config: ConfigPartial = {}, overrides: Parameters<typeof input>[1] = {}): Promise<OciSpec> {
  return generateSpec(input(config, overrides));
}

function mountAt(result: OciSpec, destination: string) {
  return result.mounts.find((mount) => mount.destination === destination);
}

describe('command line', () => {
  const image: ImageConfigJson = { config: { Entrypoint: ['/entry'], Cmd: ['--default'] } };
  const rows: [string, ConfigPartial, ImageConfigJson, string[]][] = [
    ['neither: image entrypoint + cmd', {}, image, ['/entry', '--default']],
    ['command replaces entrypoint and drops cmd', { command: ['/bin/sh'] }, image, ['/bin/sh']],
    ['args replace cmd only', { args: ['--other'] }, image, ['/entry', '--other']],
    ['command and args', { command: ['/bin/sh'], args: ['-c', 'true'] }, image, ['/bin/sh', '-c', 'true']],
    ['image with cmd only', {}, { config: { Cmd: ['/bin/true'] } }, ['/bin/true']],
    ['args with no image entrypoint', { args: ['/bin/echo', 'hi'] }, { config: { Cmd: ['ignored'] } }, ['/bin/echo', 'hi']],
  ];
  test.each(rows)('%s', async (_what, config, imageConfig, expected) => {
    expect((await spec(config, { image: imageConfig })).process.args).toEqual(expected);
  });

  test('nothing to run is refused', async () => {
    await expect(spec({}, { image: { config: {} } })).rejects.toThrow(InvalidArgumentError);
  });

  test('cwd: CRI working_dir, else the image, else /', async () => {
    expect((await spec({ workingDir: '/srv' }, { image: { config: { Cmd: ['x'], WorkingDir: '/app' } } })).process.cwd).toBe('/srv');
    expect((await spec({}, { image: { config: { Cmd: ['x'], WorkingDir: '/app' } } })).process.cwd).toBe('/app');
    expect((await spec({}, { image: { config: { Cmd: ['x'] } } })).process.cwd).toBe('/');
  });

  test('tty gives a terminal', async () => {
    expect((await spec({ tty: true, stdin: true })).process.terminal).toBe(true);
    expect((await spec()).process.terminal).toBe(false);
  });
});

describe('environment', () => {
  test('CRI variables override the image by name, HOSTNAME is the pod hostname', async () => {
    const env = (await spec({ envs: [{ key: 'NGINX_VERSION', value: Buffer.from('1.27') }, { key: 'EXTRA', value: Buffer.from('a=b') }] })).process.env;
    expect(env).toEqual(['HOSTNAME=frontend-host', 'PATH=/usr/local/bin:/usr/bin', 'NGINX_VERSION=1.27', 'EXTRA=a=b']);
  });

  test('a default PATH when neither sets one; the CRI may set HOSTNAME itself', async () => {
    const env = (await spec({ envs: [{ key: 'HOSTNAME', value: Buffer.from('mine') }] }, { image: { config: { Cmd: ['x'] } } })).process.env;
    expect(env).toEqual(['HOSTNAME=mine', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });
});

describe('user', () => {
  const withUser = (User: string): ImageConfigJson => ({ config: { Cmd: ['x'], User } });

  test.each([
    ['image default (root)', {}, '', { uid: 0, gid: 0, additionalGids: [0, 10] }],
    ['image user by name', {}, 'app', { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] }],
    ['image uid listed in passwd', {}, '1000', { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] }],
    ['image uid not in passwd', {}, '4321', { uid: 4321, gid: 0, additionalGids: [0] }],
    ['image uid:gid', {}, '1000:50', { uid: 1000, gid: 50, additionalGids: [50, 10, 29] }],
    ['image name:group', {}, 'app:staff', { uid: 1000, gid: 50, additionalGids: [50, 10, 29] }],
    ['run_as_user wins over the image', { runAsUser: { value: 1n } }, 'app', { uid: 1, gid: 1, additionalGids: [1] }],
    ['run_as_username', { runAsUsername: 'nobody' }, '', { uid: 65534, gid: 65534, additionalGids: [65534] }],
    ['run_as_group wins', { runAsUser: { value: 1000n }, runAsGroup: { value: 3000n } }, '', { uid: 1000, gid: 3000, additionalGids: [3000, 10, 29] }],
    ['supplemental groups added, deduplicated', { runAsUser: { value: 1000n }, supplementalGroups: [29n, 4000n] }, '', { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29, 4000] }],
    ['Strict policy ignores /etc/group', { runAsUser: { value: 1000n }, supplementalGroups: [4000n], supplementalGroupsPolicy: SupplementalGroupsPolicy.Strict }, '', { uid: 1000, gid: 1000, additionalGids: [1000, 4000] }],
  ] as const)('%s', async (_what, securityContext, user, expected) => {
    const partial: ContextPartial = { ...securityContext, supplementalGroups: 'supplementalGroups' in securityContext ? [...securityContext.supplementalGroups] : [] };
    expect((await spec({ linux: context(partial) }, { image: withUser(user) })).process.user).toEqual(expected);
  });

  test('unknown names are refused, naming them', async () => {
    await expect(spec({}, { image: withUser('ghost') })).rejects.toThrow(/image user "ghost"/);
    await expect(spec({}, { image: withUser('app:ghosts') })).rejects.toThrow(/image group "ghosts"/);
    await expect(spec({ linux: context({ runAsUsername: 'ghost' }) })).rejects.toThrow(InvalidArgumentError);
    await expect(spec({ linux: context({ runAsUsername: 'ghost' }) })).rejects.toThrow(/run_as_username "ghost"/);
  });

  test('run_as_group without a user is refused', async () => {
    await expect(spec({ linux: context({ runAsGroup: { value: 3000n } }) }, { image: withUser('app') })).rejects.toThrow(
      'run_as_group is set without run_as_user or run_as_username',
    );
  });

  test('symlinks in the image resolve inside the image, never to the host', async () => {
    const linked = join(scratch, 'linked');
    await mkdir(join(linked, 'etc'), { recursive: true });
    await mkdir(join(linked, 'data'), { recursive: true });
    await writeFile(join(linked, 'data/passwd'), 'svc:x:777:778::/:/bin/sh\n');
    await symlink('/../../data/passwd', join(linked, 'etc/passwd'));
    await symlink('/data/group', join(linked, 'etc/group'));
    const user = (await spec({}, { rootfs: linked, image: withUser('svc') })).process.user;
    expect(user).toEqual({ uid: 777, gid: 778, additionalGids: [778] });
    // The host's /etc/passwd has root; the image's (reached through the link) does not.
    await expect(spec({}, { rootfs: linked, image: withUser('root') })).rejects.toThrow(/image user "root"/);
    await symlink('/data/group', join(linked, 'data/group'));
    await expect(spec({}, { rootfs: linked, image: withUser('svc') })).rejects.toThrow(/too many symlinks resolving \/etc\/group/);
  });
});

describe('capabilities', () => {
  test('"ALL" and privileged mean what the runtime holds, never more', async () => {
    const available = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN'];
    expect(containerCapabilities([], undefined, true, available).bounding).toEqual(available);
    const all = { addCapabilities: ['ALL'], dropCapabilities: ['KILL'], addAmbientCapabilities: [] };
    expect(containerCapabilities([], all, false, available).bounding).toEqual(['CAP_CHOWN', 'CAP_SYS_ADMIN']);
    // This process's bounding set, read from /proc: what a container here can get at most.
    const host = await hostCapabilities();
    expect(host).toContain('CAP_CHOWN');
    expect(host.every((name) => ALL_CAPABILITIES.includes(name))).toBe(true);
  });

  const caps = async (securityContext: ContextPartial, podPrivileged = false) => (await spec({ linux: context(securityContext) }, { podPrivileged })).process.capabilities;

  test('the default set, with CAP_ names, in all three sets and no inheritable', async () => {
    const result = await caps({});
    expect(result.bounding).toContain('CAP_NET_BIND_SERVICE');
    expect(result.bounding).toHaveLength(DEFAULT_CAPS.length);
    expect(result.effective).toEqual(result.bounding);
    expect(result.permitted).toEqual(result.bounding);
    expect(result.inheritable).toBeUndefined();
  });

  test('add and drop', async () => {
    const result = await caps({ capabilities: { addCapabilities: ['NET_ADMIN', 'sys_time'], dropCapabilities: ['NET_RAW', 'CAP_MKNOD'] } });
    expect(result.bounding).toEqual(expect.arrayContaining(['CAP_NET_ADMIN', 'CAP_SYS_TIME']));
    expect(result.bounding).not.toContain('CAP_NET_RAW');
    expect(result.bounding).not.toContain('CAP_MKNOD');
  });

  test('drop ALL then add one', async () => {
    expect((await caps({ capabilities: { dropCapabilities: ['ALL'], addCapabilities: ['NET_BIND_SERVICE'] } })).bounding).toEqual(['CAP_NET_BIND_SERVICE']);
  });

  test('add ALL then drop one', async () => {
    const result = await caps({ capabilities: { addCapabilities: ['ALL'], dropCapabilities: ['SYS_ADMIN'] } });
    expect(result.bounding).toEqual(ALL_CAPABILITIES.filter((name) => name !== 'CAP_SYS_ADMIN'));
  });

  test('ambient capabilities must be held and become inheritable too', async () => {
    const result = await caps({ capabilities: { addAmbientCapabilities: ['NET_BIND_SERVICE'] } });
    expect(result.ambient).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(result.inheritable).toEqual(['CAP_NET_BIND_SERVICE']);
    await expect(caps({ capabilities: { addAmbientCapabilities: ['SYS_ADMIN'] } })).rejects.toThrow(/add_ambient_capabilities/);
  });

  test('an unknown capability is refused naming it', async () => {
    await expect(caps({ capabilities: { addCapabilities: ['FLY'] } })).rejects.toThrow(/add_capabilities: unknown capability "FLY"/);
  });

  test('privileged: every capability, no masked or readonly paths, rw sysfs and cgroupfs, all devices, no seccomp', async () => {
    const result = await spec({ linux: context({ privileged: true, seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault } }) }, { podPrivileged: true });
    expect(result.process.capabilities.bounding).toEqual(ALL_CAPABILITIES);
    expect(result.linux.maskedPaths).toEqual([]);
    expect(result.linux.readonlyPaths).toEqual([]);
    expect(mountAt(result, '/sys')?.options).toContain('rw');
    expect(mountAt(result, '/sys/fs/cgroup')?.options).toContain('rw');
    expect(result.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(result.linux.devices).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/dev/null', type: 'c', major: 1, minor: 3 })]));
    expect(result.linux.seccomp).toBeUndefined();
  });

  test('a privileged container in an unprivileged pod is refused', async () => {
    await expect(spec({ linux: context({ privileged: true }) })).rejects.toThrow(/privileged pod/);
  });
});

describe('filesystem protection', () => {
  test('default masked and readonly paths; sysfs and cgroupfs read-only', async () => {
    const result = await spec();
    expect(result.linux.maskedPaths).toEqual(expect.arrayContaining(['/proc/kcore', '/proc/keys', '/sys/firmware', '/sys/devices/virtual/powercap']));
    expect(result.linux.maskedPaths).toHaveLength(10);
    expect(result.linux.readonlyPaths).toEqual(['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    expect(mountAt(result, '/sys')?.options).toContain('ro');
    expect(mountAt(result, '/sys/fs/cgroup')?.options).toContain('ro');
  });

  test('CRI lists replace the defaults', async () => {
    const result = await spec({ linux: context({ maskedPaths: ['/proc/secret'], readonlyPaths: ['/proc/ro'] }) });
    expect(result.linux.maskedPaths).toEqual(['/proc/secret']);
    expect(result.linux.readonlyPaths).toEqual(['/proc/ro']);
  });

  test('readonly rootfs makes the root and the pod files read-only', async () => {
    const result = await spec({ linux: context({ readonlyRootfs: true }) });
    expect(result.root).toEqual({ path: rootfs, readonly: true });
    expect(mountAt(result, '/etc/hosts')?.options).toContain('ro');
    expect((await spec()).root.readonly).toBe(false);
  });

  test('no_new_privs', async () => {
    expect((await spec({ linux: context({ noNewPrivs: true }) })).process.noNewPrivileges).toBe(true);
    expect((await spec()).process.noNewPrivileges).toBe(false);
  });
});

describe('mounts', () => {
  test('standard mounts and the pod files', async () => {
    const result = await spec();
    expect(result.mounts.map((mount) => mount.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/dev/shm', '/etc/resolv.conf', '/etc/hosts', '/etc/hostname']);
    expect(mountAt(result, '/dev/shm')).toMatchObject({ type: 'bind', source: '/run/podvisor/pods/p0d/shm' });
    expect(mountAt(result, '/etc/resolv.conf')).toEqual({ destination: '/etc/resolv.conf', type: 'bind', source: '/run/podvisor/pods/p0d/resolv.conf', options: ['rbind', 'rprivate', 'rw'] });
  });

  test('a pod without shm gives the container a private tmpfs', async () => {
    const files = { resolvConf: '/r', hosts: '/h', hostname: '/n' };
    expect(mountAt(await spec({}, { pod: { files } }), '/dev/shm')).toMatchObject({ type: 'tmpfs', source: 'shm' });
  });

  test('CRI mounts: propagation and read-only, parents first, covering pod files', async () => {
    const result = await spec({
      mounts: [
        { containerPath: '/data/cache', hostPath: '/srv/cache', propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER },
        { containerPath: '/data', hostPath: '/srv/data', readonly: true },
        { containerPath: '/shared', hostPath: '/srv/shared', propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL },
        { containerPath: '/etc/hosts', hostPath: '/srv/hosts', readonly: true, recursiveReadOnly: true },
        { containerPath: '/selinux', hostPath: '/srv/x', selinuxRelabel: true },
      ],
    });
    expect(result.mounts.filter((mount) => mount.destination === '/etc/hosts')).toEqual([{ destination: '/etc/hosts', type: 'bind', source: '/srv/hosts', options: ['rbind', 'rprivate', 'rro'] }]);
    const cri = result.mounts.slice(-5).map((mount) => [mount.destination, mount.options.join(',')]);
    expect(cri).toEqual([
      ['/data', 'rbind,rprivate,ro'],
      ['/shared', 'rbind,rshared,rw'],
      ['/selinux', 'rbind,rprivate,rw'],
      ['/data/cache', 'rbind,rslave,rw'],
      ['/etc/hosts', 'rbind,rprivate,rro'],
    ]);
    // A bidirectional mount only works under a shared root.
    expect(result.linux.rootfsPropagation).toBe('rshared');
  });

  test('the root propagates as the CRI mounts need: slave for host-to-container, private otherwise', async () => {
    const slave = await spec({ mounts: [{ containerPath: '/cache', hostPath: '/srv/cache', propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER }] });
    expect(slave.linux.rootfsPropagation).toBe('rslave');
    expect((await spec({ mounts: [{ containerPath: '/data', hostPath: '/srv/data' }] })).linux.rootfsPropagation).toBeUndefined();
  });

  test('bad CRI mounts are refused', async () => {
    await expect(spec({ mounts: [{ containerPath: 'relative', hostPath: '/srv' }] })).rejects.toThrow(/container_path must be absolute/);
    await expect(spec({ mounts: [{ containerPath: '/x', hostPath: '/srv', image: { image: 'busybox' } }] })).rejects.toThrow(UnimplementedError);
  });

  test('prepareMountSources makes missing directories and resolves symlinks', async () => {
    const missing = join(scratch, 'volumes/new/dir');
    const target = join(scratch, 'real-target');
    await mkdir(target);
    await symlink(target, join(scratch, 'link'));
    const prepared = await prepareMountSources(ContainerConfig.fromPartial({ mounts: [{ containerPath: '/a', hostPath: missing }, { containerPath: '/b', hostPath: join(scratch, 'link'), readonly: true }] }));
    expect((await stat(missing)).isDirectory()).toBe(true);
    expect(prepared.mounts.map((mount) => [mount.hostPath, mount.readonly])).toEqual([[missing, false], [target, true]]);
  });
});

describe('devices', () => {
  test('host device nodes with their numbers and permissions', async () => {
    const result = await spec({ devices: [{ containerPath: '/dev/mynull', hostPath: '/dev/null', permissions: 'rw' }, { containerPath: '/dev/zero2', hostPath: '/dev/zero', permissions: '' }] });
    expect(result.linux.devices).toEqual([
      expect.objectContaining({ path: '/dev/mynull', type: 'c', major: 1, minor: 3 }),
      expect.objectContaining({ path: '/dev/zero2', type: 'c', major: 1, minor: 5, fileMode: 0o666 }),
    ]);
    expect(result.linux.resources.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
      { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
    ]);
  });

  test('missing paths, non-devices and bad permissions are refused', async () => {
    await expect(spec({ devices: [{ containerPath: '/dev/x', hostPath: '/dev/none-such', permissions: 'r' }] })).rejects.toThrow(/does not exist/);
    await expect(spec({ devices: [{ containerPath: '/dev/x', hostPath: '/etc/hostname', permissions: 'r' }] })).rejects.toThrow(/not a device node/);
    await expect(spec({ devices: [{ containerPath: '/dev/x', hostPath: '/dev/null', permissions: 'rx' }] })).rejects.toThrow(/permissions "rx"/);
  });
});

describe('resources', () => {
  test('cpu, memory, hugepages and unified', async () => {
    const result = await spec({
      linux: {
        resources: {
          cpuShares: 512n, cpuQuota: 50000n, cpuPeriod: 100000n, cpusetCpus: '0-1', cpusetMems: '0',
          memoryLimitInBytes: 268435456n, hugepageLimits: [{ pageSize: '2MB', limit: 4194304n }], unified: { 'memory.high': '200000000' },
        },
      },
    });
    expect(result.linux.resources).toEqual({
      devices: [{ allow: false, access: 'rwm' }],
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
      memory: { limit: 268435456, swap: 268435456 },
      hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
      unified: { 'memory.high': '200000000' },
    });
  });

  test('nothing set, nothing limited', async () => {
    expect((await spec()).linux.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }], hugepageLimits: [] });
  });

  test.each([
    [-998n, 0, 0],
    [-998n, -1000, -998],
    [500n, 0, 500],
    [1500n, 0, 1000],
  ])('oom_score_adj %p with floor %p is %p', async (asked, floor, expected) => {
    expect((await spec({ linux: { resources: { oomScoreAdj: asked } } }, { options: { oomScoreAdjFloor: floor } })).process.oomScoreAdj).toBe(expected);
  });
});

describe('namespaces', () => {
  const namespaces = async (options: ContextPartial['namespaceOptions'], pod: Partial<SpecInput['pod']> = {}) => (await spec({ linux: context({ namespaceOptions: options }) }, { pod })).linux.namespaces;

  test('pod network, IPC and UTS, own PID and mount namespaces', async () => {
    expect(await namespaces({ pid: NamespaceMode.CONTAINER })).toEqual([
      { type: 'pid' },
      { type: 'network', path: '/run/podvisor/ns/net-p0d' },
      { type: 'ipc', path: '/run/podvisor/ns/ipc-p0d' },
      { type: 'uts', path: '/run/podvisor/ns/uts-p0d' },
      { type: 'mount' },
    ]);
  });

  test('PID per mode', async () => {
    const pid = async (options: ContextPartial['namespaceOptions'], pod: Partial<SpecInput['pod']> = {}) => (await namespaces(options, pod)).find((ns) => ns.type === 'pid');
    expect(await pid({ pid: NamespaceMode.POD })).toEqual({ type: 'pid', path: '/proc/4242/ns/pid' });
    expect(await pid({ pid: NamespaceMode.NODE })).toBeUndefined();
    expect(await pid({ pid: NamespaceMode.TARGET, targetId: 'other' }, { targetPidNamespace: '/proc/77/ns/pid' })).toEqual({ type: 'pid', path: '/proc/77/ns/pid' });
    await expect(namespaces({ pid: NamespaceMode.TARGET, targetId: 'other' })).rejects.toThrow(FailedPreconditionError);
    // POD, the CRI's zero value, in a pod that shares no PID namespace: one of the container's own.
    expect(await pid({ pid: NamespaceMode.POD }, { pidNamespace: undefined })).toEqual({ type: 'pid' });
  });

  test('host network, IPC and UTS: no entries and the host name', async () => {
    const result = await spec({ linux: context({ namespaceOptions: { network: NamespaceMode.NODE, ipc: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER } }) }, { pod: { namespaces: {} } });
    expect(result.linux.namespaces).toEqual([{ type: 'pid' }, { type: 'mount' }]);
    expect(result.hostname).toBeUndefined();
    expect(result.process.env).toContain(`HOSTNAME=${hostname()}`);
  });

  test('hostname and sysctls come from the pod', async () => {
    const result = await spec();
    expect(result.hostname).toBe('frontend-host');
    expect(result.linux.sysctl).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '0' });
  });
});

describe('cgroups path and annotations', () => {
  test('cgroupfs: below the pod cgroup', async () => {
    expect((await spec()).linux.cgroupsPath).toBe('/podvisor/pod-p0d/ctr-c0ffee');
  });

  test("systemd: runc's slice:prefix:name form", async () => {
    const result = await spec({}, { pod: { cgroupManager: 'systemd', cgroupPath: '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poduid.slice' } });
    expect(result.linux.cgroupsPath).toBe('kubepods-besteffort-poduid.slice:podvisor:c0ffee');
    await expect(spec({}, { pod: { cgroupManager: 'systemd', cgroupPath: '/podvisor/pod-p0d' } })).rejects.toThrow(FailedPreconditionError);
  });

  test('CRI annotations plus ours, which cannot be overridden', async () => {
    const result = await spec({ annotations: { 'example.com/team': 'web', 'io.kubernetes.cri.sandbox-id': 'spoofed' } });
    expect(result.annotations).toEqual({
      'example.com/team': 'web',
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': 'web',
      'io.kubernetes.cri.sandbox-id': 'p0d',
      'io.kubernetes.cri.sandbox-name': 'frontend',
      'io.kubernetes.cri.sandbox-namespace': 'shop',
      'io.kubernetes.cri.sandbox-uid': 'uid-1',
      'io.kubernetes.cri.image-name': 'docker.io/library/nginx:1',
    });
  });
});

describe('AppArmor, SELinux and seccomp', () => {
  const withContext = (securityContext: ContextPartial, options: Partial<SpecInput['options']> = {}) => spec({ linux: context(securityContext) }, { options });

  test('asking for AppArmor on this host is refused; unconfined or nothing is fine', async () => {
    await expect(withContext({ apparmor: { profileType: SecurityProfile_ProfileType.RuntimeDefault } })).rejects.toThrow('AppArmor is not enabled on this host');
    await expect(withContext({ apparmorProfile: 'localhost/custom' })).rejects.toThrow(FailedPreconditionError);
    expect((await withContext({ apparmor: { profileType: SecurityProfile_ProfileType.Unconfined } })).process.apparmorProfile).toBeUndefined();
    expect((await withContext({ apparmorProfile: 'unconfined' })).process.apparmorProfile).toBeUndefined();
  });

  test('with AppArmor enabled: runtime default and localhost names', async () => {
    const enabled = { apparmorDefaultProfile: 'podvisor-default' };
    expect((await withContext({ apparmor: { profileType: SecurityProfile_ProfileType.RuntimeDefault } }, enabled)).process.apparmorProfile).toBe('podvisor-default');
    expect((await withContext({ apparmor: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: 'k8s-nginx' } }, enabled)).process.apparmorProfile).toBe('k8s-nginx');
    expect((await withContext({ apparmorProfile: 'localhost/legacy' }, enabled)).process.apparmorProfile).toBe('legacy');
  });

  test('SELinux options are ignored while SELinux is off and labels made when on', async () => {
    const selinuxOptions = { level: 's0:c1,c2' };
    const off = await withContext({ selinuxOptions });
    expect(off.process.selinuxLabel).toBeUndefined();
    expect(off.linux.mountLabel).toBeUndefined();
    const on = await withContext({ selinuxOptions }, { selinuxEnabled: true });
    expect(on.process.selinuxLabel).toBe('system_u:system_r:container_t:s0:c1,c2');
    expect(on.linux.mountLabel).toBe('system_u:object_r:container_file_t:s0:c1,c2');
  });

  test('RuntimeDefault seccomp follows the container capabilities', async () => {
    const plain = await withContext({ seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault } });
    const filter = plain.linux.seccomp;
    expect(filter && evaluateSeccomp(filter, 'mount').action).toBe('SCMP_ACT_ERRNO');
    expect(filter && evaluateSeccomp(filter, 'read').action).toBe('SCMP_ACT_ALLOW');
    const admin = await withContext({ seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault }, capabilities: { addCapabilities: ['SYS_ADMIN'] } });
    expect(admin.linux.seccomp && evaluateSeccomp(admin.linux.seccomp, 'mount').action).toBe('SCMP_ACT_ALLOW');
    expect((await withContext({})).linux.seccomp).toBeUndefined();
  });
});

test('the spec survives JSON, as runc will read it', async () => {
  const result = await spec({ linux: { resources: { memoryLimitInBytes: 1n << 30n }, securityContext: { seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault } } } });
  expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  expect(result.ociVersion).toMatch(/^1\.\d+\.\d+$/);
});

