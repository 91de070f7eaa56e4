import { access, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { NETNS_DIR, type NamespaceRequest, type PodNamespaces, netnsName, pinPodNamespaces, releasePodNamespaces } from '../network/namespaces';
import { validateSysctls } from '../network/sysctls';
import { newId } from '../system/ids';
import { AlreadyExistsError, InvalidArgumentError } from '../system/errors';
import { command, mountPoints, netnsNames } from './support/net-tools';

const exists = (path: string): Promise<boolean> => access(path).then(
  () => true,
  () => false,
);

describe('pod namespaces', () => {
  let runroot: string;
  const pinned: PodNamespaces[] = [];

  beforeAll(async () => {
    runroot = await mkdtemp(join(tmpdir(), 'podvisor-ns-'));
  });
  afterAll(async () => {
    for (const namespaces of pinned) await releasePodNamespaces(namespaces);
    await rm(runroot, { recursive: true, force: true });
  });

  function request(overrides: Partial<NamespaceRequest> = {}): NamespaceRequest {
    return { podId: newId(), runroot, network: true, ipc: true, uts: true, hostname: 'pod-a', sysctls: {}, ...overrides };
  }

  async function pin(overrides: Partial<NamespaceRequest> = {}): Promise<PodNamespaces> {
    const namespaces = await pinPodNamespaces(request(overrides));
    pinned.push(namespaces);
    return namespaces;
  }

  /** Every trace a pod's namespaces could leave: files, mounts, `ip netns` entries. */
  async function traces(podId: string): Promise<string[]> {
    const files = [join(NETNS_DIR, netnsName(podId)), join(runroot, 'ns', 'ipc', podId), join(runroot, 'ns', 'uts', podId)];
    const mounts = await mountPoints();
    const found: string[] = [];
    for (const file of files) {
      if (await exists(file)) found.push(`file ${file}`);
      // mountinfo shows real paths, and /var/run is a symlink to /run.
      const real = join(await realpath(dirname(file)).catch(() => dirname(file)), basename(file));
      if (mounts.includes(real)) found.push(`mount ${real}`);
    }
    if ((await netnsNames()).includes(netnsName(podId))) found.push(`netns ${netnsName(podId)}`);
    return found;
  }

  test('a pod gets its own hostname, loopback and sysctls while the host keeps its own', async () => {
    const hostShmmni = await readFile('/proc/sys/kernel/shmmni', 'utf8');
    const hostPortStart = await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8');
    const podId = newId();
    const namespaces = await pin({
      podId,
      hostname: 'web-0',
      sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80', 'kernel/shmmni': '1234' },
    });
    expect(namespaces.network).toBe(join(NETNS_DIR, netnsName(podId)));
    expect(await netnsNames()).toContain(netnsName(podId));

    expect((await command('nsenter', [`--uts=${namespaces.uts}`, 'hostname'])).trim()).toBe('web-0');
    expect(hostname()).not.toBe('web-0');

    expect(await command('ip', ['-n', netnsName(podId), '-o', 'link', 'show', 'lo'])).toMatch(/<[^>]*\bUP\b[^>]*>/);
    const podPortStart = await command('nsenter', [`--net=${namespaces.network}`, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start']);
    expect(podPortStart.trim()).toBe('80');
    expect((await command('nsenter', [`--ipc=${namespaces.ipc}`, 'cat', '/proc/sys/kernel/shmmni'])).trim()).toBe('1234');

    expect(await readFile('/proc/sys/kernel/shmmni', 'utf8')).toBe(hostShmmni);
    expect(await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')).toBe(hostPortStart);
  });

  test('a pod on the host network, IPC and UTS namespaces gets no namespace files', async () => {
    const podId = newId();
    expect(await pin({ podId, network: false, ipc: false, uts: false })).toEqual({});
    expect(await traces(podId)).toEqual([]);
  });

  test('a sysctl a pod may not set is refused by name, before anything is made', async () => {
    const podId = newId();
    await expect(pin({ podId, sysctls: { 'vm.swappiness': '10' } })).rejects.toThrow(
      new InvalidArgumentError('sysctl "vm.swappiness" is not namespaced; a pod may not set it'),
    );
    await expect(pin({ podId, network: false, sysctls: { 'net.core.somaxconn': '1024' } })).rejects.toThrow(/"net.core.somaxconn".*host network/);
    expect(await traces(podId)).toEqual([]);
  });

  test('a failure once the namespaces exist removes all of them', async () => {
    const podId = newId();
    await expect(pin({ podId, sysctls: { 'net.ipv4.podvisor_no_such_knob': '1' } })).rejects.toThrow(/net.ipv4.podvisor_no_such_knob/);
    expect(await traces(podId)).toEqual([]);
  });

  test('pinning a pod twice is refused and leaves the first pin working', async () => {
    const podId = newId();
    const namespaces = await pin({ podId, hostname: 'first' });
    await expect(pinPodNamespaces(request({ podId, hostname: 'second' }))).rejects.toThrow(AlreadyExistsError);
    expect((await command('nsenter', [`--uts=${namespaces.uts}`, 'hostname'])).trim()).toBe('first');
  });

  test('release removes everything, and releasing again is fine', async () => {
    const podId = newId();
    const namespaces = await pinPodNamespaces(request({ podId }));
    expect(await traces(podId)).not.toEqual([]);
    await releasePodNamespaces(namespaces);
    await releasePodNamespaces(namespaces);
    expect(await traces(podId)).toEqual([]);
  });
});

describe('validateSysctls', () => {
  const pod = { hostNetwork: false, hostIpc: false };

  test.each([
    ['net.ipv4.ip_forward'],
    ['net/ipv4/conf/eth0.100/rp_filter'],
    ['kernel.shmmax'],
    ['kernel.shm_rmid_forced'],
    ['kernel.msgmax'],
    ['kernel.sem'],
    ['fs.mqueue.msg_max'],
  ])('a pod with its own namespaces may set %s', (name) => {
    expect(() => validateSysctls({ [name]: '1' }, pod)).not.toThrow();
  });

  test.each([
    ['vm.swappiness', 'is not namespaced'],
    ['kernel.hostname', 'is not namespaced'],
    ['kernel.semaphores', 'is not namespaced'],
    ['fs.file-max', 'is not namespaced'],
    ['net', 'is not a valid sysctl name'],
    ['net/ipv4/../../../etc', 'is not a valid sysctl name'],
    ['net..ipv4', 'is not a valid sysctl name'],
  ])('%s is refused: %s', (name, reason) => {
    expect(() => validateSysctls({ [name]: '1' }, pod)).toThrow(`sysctl "${name}" ${reason}`);
  });

  test('host namespaces rule out the sysctls that live in them', () => {
    expect(() => validateSysctls({ 'net.ipv4.ip_forward': '1' }, { hostNetwork: true, hostIpc: false })).toThrow(InvalidArgumentError);
    expect(() => validateSysctls({ 'kernel.shmmax': '1' }, { hostNetwork: true, hostIpc: false })).not.toThrow();
    expect(() => validateSysctls({ 'kernel.shmmax': '1' }, { hostNetwork: false, hostIpc: true })).toThrow(/"kernel.shmmax".*IPC/);
    expect(() => validateSysctls({ 'net.ipv4.ip_forward': '1' }, { hostNetwork: false, hostIpc: true })).not.toThrow();
  });

  test('a value with a line break is refused', () => {
    expect(() => validateSysctls({ 'net.ipv4.ip_forward': '1\n0' }, pod)).toThrow(InvalidArgumentError);
  });
});
