import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hostResolvConf } from '../oci/host-resolv-conf';
import { createPodFiles, removePodFiles, unmountPodShm, type PodFilesRequest } from '../oci/pod-files';
import { InvalidArgumentError } from '../system/errors';
import { readMountInfo } from '../system/mountinfo';

const run = promisify(execFile);
const SHM_BYTES = 64 * 1024 * 1024;

async function mountsUnder(dir: string): Promise<string[]> {
  return (await readMountInfo()).map((m) => m.mountPoint).filter((p) => p === dir || p.startsWith(`${dir}/`));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('pod files', () => {
  let base: string;
  let podDir: string;
  const request = (overrides: Partial<PodFilesRequest> = {}): PodFilesRequest => ({
    dir: podDir,
    hostname: 'web-0',
    dns: undefined,
    hostNetwork: false,
    shmSizeBytes: SHM_BYTES,
    ...overrides,
  });

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'podvisor-podfiles-'));
    podDir = join(base, 'pods', 'p1');
  });

  // Unmounted here without the code under test, so a broken removePodFiles leaks nothing.
  afterEach(async () => {
    for (const mountPoint of (await mountsUnder(base)).reverse()) await run('umount', [mountPoint], { timeout: 10000 });
    await rm(base, { recursive: true, force: true });
  });

  test('a private /dev/shm is a tmpfs of the asked size, world-writable, without exec, suid or devices', async () => {
    const files = await createPodFiles(request());
    expect(files.shm).toBe(join(podDir, 'shm'));
    const mount = (await readMountInfo()).find((m) => m.mountPoint === files.shm);
    expect(mount?.fsType).toBe('tmpfs');
    expect(mount?.options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    const fs = await statfs(join(podDir, 'shm'));
    expect(fs.blocks * fs.bsize).toBe(SHM_BYTES);
    expect((await stat(join(podDir, 'shm'))).mode & 0o7777).toBe(0o1777);
    expect((await stat(podDir)).mode & 0o777).toBe(0o700);
  });

  test('with host IPC (size 0) nothing is mounted', async () => {
    const files = await createPodFiles(request({ shmSizeBytes: 0 }));
    expect(files.shm).toBeUndefined();
    expect(await mountsUnder(base)).toEqual([]);
    expect((await readdir(podDir)).sort()).toEqual(['hostname', 'hosts', 'resolv.conf']);
  });

  test('resolv.conf follows the DNS config given; hosts has localhost and the aliases; hostname is the name', async () => {
    const files = await createPodFiles(
      request({
        dns: { servers: ['10.96.0.10', 'fd00::a'], searches: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5', 'edns0'] },
        hostAliases: [{ ip: '10.1.2.3', hostnames: ['db', 'db.local'] }],
      }),
    );
    expect(await readFile(files.resolvConf, 'utf8')).toBe(
      'nameserver 10.96.0.10\nnameserver fd00::a\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5 edns0\n',
    );
    const hosts = (await readFile(files.hosts, 'utf8')).split('\n');
    expect(hosts).toEqual(expect.arrayContaining(['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', '10.1.2.3\tdb db.local']));
    expect(await readFile(files.hostname, 'utf8')).toBe('web-0\n');
    for (const path of [files.resolvConf, files.hosts, files.hostname]) expect((await stat(path)).mode & 0o777).toBe(0o644);
  });

  test('with no DNS config (or an empty one) the pod resolves as the host does', async () => {
    const absent = await createPodFiles(request());
    expect(await readFile(absent.resolvConf, 'utf8')).toBe(await hostResolvConf());
    await removePodFiles(podDir);
    const empty = await createPodFiles(request({ dns: { servers: [], searches: [], options: [] } }));
    expect(await readFile(empty.resolvConf, 'utf8')).toBe(await hostResolvConf());
  });

  test('a host-network pod gets the host /etc/hosts, plus its aliases', async () => {
    const files = await createPodFiles(request({ hostNetwork: true, hostAliases: [{ ip: '10.9.9.9', hostnames: ['extra'] }] }));
    const hostHosts = await readFile('/etc/hosts', 'utf8');
    const hosts = await readFile(files.hosts, 'utf8');
    expect(hosts.startsWith(hostHosts)).toBe(true);
    expect(hosts.trimEnd().endsWith('10.9.9.9\textra')).toBe(true);
  });

  test.each([
    [{ servers: ['8.8.8.8', 'dns.example'], searches: [], options: [] }, 'dns.example'],
    [{ servers: [], searches: Array.from({ length: 33 }, (_, i) => `s${i}.example`), options: [] }, 's32.example'],
    [{ servers: [], searches: ['two words'], options: [] }, 'two words'],
  ])('bad DNS config %# is refused naming the value, and nothing is made', async (dns, bad) => {
    const attempt = createPodFiles(request({ dns }));
    await expect(attempt).rejects.toThrow(InvalidArgumentError);
    await expect(attempt).rejects.toThrow(bad);
    expect(await exists(podDir)).toBe(false);
  });

  test('a failure midway leaves only what was there before', async () => {
    await mkdir(podDir, { recursive: true });
    await writeFile(join(podDir, 'shm'), 'in the way');
    await expect(createPodFiles(request())).rejects.toThrow(/EEXIST/);
    expect(await readdir(podDir)).toEqual(['shm']);
    expect(await mountsUnder(base)).toEqual([]);
  });

  test('unmounting shm keeps the files; twice is fine', async () => {
    const files = await createPodFiles(request());
    await unmountPodShm(files);
    await unmountPodShm(files);
    expect(await mountsUnder(base)).toEqual([]);
    expect(await exists(files.resolvConf)).toBe(true);
  });

  test('removal unmounts everything under the pod directory and deletes it; twice is fine', async () => {
    await createPodFiles(request());
    // Something mounted deeper by someone else must not make removal fail or delete through it.
    await mkdir(join(podDir, 'shm', 'nested'));
    await run('mount', ['-t', 'tmpfs', 'extra', join(podDir, 'shm', 'nested')], { timeout: 10000 });
    await removePodFiles(podDir);
    await removePodFiles(podDir);
    expect(await mountsUnder(base)).toEqual([]);
    expect(await exists(podDir)).toBe(false);
  });
});

describe('host resolv.conf for pods', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-resolv-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test('a host pointing only at a loopback stub resolver gives systemd-resolved upstream servers', async () => {
    await writeFile(join(dir, 'etc'), 'nameserver 127.0.0.53\noptions edns0 trust-ad\n');
    await writeFile(join(dir, 'upstream'), 'nameserver 192.0.2.1\n');
    expect(await hostResolvConf(join(dir, 'etc'), join(dir, 'upstream'))).toBe('nameserver 192.0.2.1\n');
  });

  test('a real server among the host ones, or no upstream file, keeps the host file as it is', async () => {
    await writeFile(join(dir, 'mixed'), 'nameserver 127.0.0.53\nnameserver 192.0.2.9\n');
    await writeFile(join(dir, 'stub'), 'nameserver 127.0.0.53\n');
    await writeFile(join(dir, 'upstream'), 'nameserver 192.0.2.1\n');
    expect(await hostResolvConf(join(dir, 'mixed'), join(dir, 'upstream'))).toBe('nameserver 127.0.0.53\nnameserver 192.0.2.9\n');
    expect(await hostResolvConf(join(dir, 'stub'), join(dir, 'absent'))).toBe('nameserver 127.0.0.53\n');
  });
});
