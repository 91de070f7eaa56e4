import { execFile, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { isTrackedRunning, trackedPidInUse } from '../system/tracked-process';
import { findInfraProcesses, startInfraProcess, stopInfraProcess, type InfraProcess } from '../oci/conmon/infra-process';
import { createPodCgroup, removePodCgroup, type PodCgroup } from '../oci/cgroups/pod-cgroup';
import { newId } from '../system/ids';
import { InvalidArgumentError } from '../system/errors';

const run = promisify(execFile);
const PROJECT = join(__dirname, '..', '..');
const PAUSE = join(PROJECT, 'dist', 'pause');
const PAUSE_SOURCE = join(PROJECT, 'oci', 'conmon', 'pause', 'pause.c');

async function statusField(pid: number, field: string): Promise<string | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return status
    .split('\n')
    .find((line) => line.startsWith(`${field}:`))
    ?.slice(field.length + 1)
    .trim();
}

/** Host pids of the live and zombie children of `parent`. */
async function childrenOf(parent: number): Promise<{ pid: number; state: string }[]> {
  const found: { pid: number; state: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if ((await statusField(Number(entry), 'PPid')) !== String(parent)) continue;
    found.push({ pid: Number(entry), state: (await statusField(Number(entry), 'State')) ?? '' });
  }
  return found;
}

async function sameNamespace(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a), stat(b)]);
  return x.ino === y.ino && x.dev === y.dev;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

describe('pod infra process', () => {
  const netns = `podvisor-test-${newId().slice(0, 10)}`;
  let dir: string;
  let utsPin: string;
  let started: InfraProcess[] = [];
  let cgroups: PodCgroup[] = [];

  beforeAll(async () => {
    await access(PAUSE).catch(() => run('cc', ['-Os', '-static', '-o', PAUSE, PAUSE_SOURCE], { timeout: 120000 }));
    dir = await mkdtemp(join(tmpdir(), 'podvisor-infra-'));
    utsPin = join(dir, 'uts');
    await writeFile(utsPin, '');
    await run('unshare', [`--uts=${utsPin}`, 'true'], { timeout: 10000 });
    await run('ip', ['netns', 'add', netns], { timeout: 10000 });
  });

  afterEach(async () => {
    for (const infra of started) if (await isTrackedRunning(infra)) process.kill(infra.pid, 'SIGKILL');
    for (const infra of started) await waitFor(async () => !(await isTrackedRunning(infra)), 5000);
    started = [];
    for (const cgroup of cgroups) await removePodCgroup(cgroup);
    cgroups = [];
  });

  afterAll(async () => {
    await run('ip', ['netns', 'delete', netns], { timeout: 10000 });
    await run('umount', [utsPin], { timeout: 10000 });
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (options: Partial<Parameters<typeof startInfraProcess>[0]> = {}): Promise<InfraProcess> => {
    const infra = await startInfraProcess({ pauseBinary: PAUSE, podId: newId(), namespaces: { network: `/run/netns/${netns}`, uts: utsPin }, ...options });
    started.push(infra);
    return infra;
  };

  test('runs as PID 1 of its own PID namespace, in the pod namespaces, cgroup and hostname, detached', async () => {
    const cgroup = await createPodCgroup('cgroupfs', '', newId());
    cgroups.push(cgroup);
    const infra = await start({ cgroupPath: cgroup.path, hostname: 'web-0' });

    expect(await statusField(infra.pid, 'NSpid')).toBe(`${infra.pid}\t1`);
    expect(infra.pidNamespace).toBe(`/proc/${infra.pid}/ns/pid`);
    expect(await sameNamespace(infra.pidNamespace, '/proc/self/ns/pid')).toBe(false);
    expect(await sameNamespace(`/proc/${infra.pid}/ns/net`, `/run/netns/${netns}`)).toBe(true);
    expect(await sameNamespace(`/proc/${infra.pid}/ns/uts`, utsPin)).toBe(true);
    const { stdout } = await run('nsenter', [`--uts=${utsPin}`, 'cat', '/proc/sys/kernel/hostname'], { timeout: 10000 });
    expect(stdout).toBe('web-0\n');
    // Not our child (the launcher is gone) and leader of its own session.
    expect(await statusField(infra.pid, 'PPid')).not.toBe(String(process.pid));
    expect(await statusField(infra.pid, 'NSsid')).toBe(`${infra.pid}\t1`);
    const memberships = (await readFile(`/proc/${infra.pid}/cgroup`, 'utf8')).trim().split('\n');
    expect(memberships.filter((line) => line.endsWith(`:${cgroup.path}`)).length).toBeGreaterThan(0);
    expect(memberships.filter((line) => line.includes(':memory:'))).toEqual([expect.stringMatching(`:${cgroup.path}$`)]);
  });

  test('outlives the process that started it', async () => {
    const script = `require(${JSON.stringify(join(PROJECT, 'dist', 'oci', 'conmon', 'infra-process.js'))})
      .startInfraProcess({ pauseBinary: ${JSON.stringify(PAUSE)}, podId: 'p1', namespaces: {} })
      .then((infra) => process.stdout.write(JSON.stringify(infra)))`;
    const { stdout } = await run(process.execPath, ['-e', script], { timeout: 20000 });
    const infra = JSON.parse(stdout) as InfraProcess;
    started.push(infra);
    await sleep(200);
    expect(await isTrackedRunning(infra)).toBe(true);
  });

  test('is found by its pod when its pid was never recorded, and only by its own pod', async () => {
    const podId = newId();
    const infra = await start({ podId });
    await start();
    expect(await findInfraProcesses(PAUSE, podId)).toEqual([infra]);
    await stopInfraProcess(infra);
    expect(await findInfraProcesses(PAUSE, podId)).toEqual([]);
  });

  test('reaps orphans of its PID namespace, so no zombie remains', async () => {
    const infra = await start();
    // sh exits at once; its background sleep is orphaned to the namespace's PID 1 and exits later.
    // Its output goes elsewhere, or execFile would wait for it to close the pipe.
    await run('nsenter', [`--pid=${infra.pidNamespace}`, '--', 'sh', '-c', 'sleep 1 >/dev/null 2>&1 &'], { timeout: 10000 });
    const orphans = await childrenOf(infra.pid);
    expect(orphans).toHaveLength(1);
    expect(orphans[0].state).not.toMatch(/^Z/);
    expect(await waitFor(async () => (await childrenOf(infra.pid)).length === 0, 5000)).toBe(true);
    expect(await isTrackedRunning(infra)).toBe(true);
  });

  test('stop ends it with SIGTERM well before the kill timeout; stopping twice is fine', async () => {
    const infra = await start();
    const began = Date.now();
    await stopInfraProcess(infra, 20000);
    expect(Date.now() - began).toBeLessThan(5000);
    expect(await isTrackedRunning(infra)).toBe(false);
    // Gone, or a zombie until whichever process adopted it collects it.
    expect((await statusField(infra.pid, 'State')) ?? 'Z').toMatch(/^Z/);
    await stopInfraProcess(infra);
  });

  test('a pid now held by another process is neither reported running nor stopped', async () => {
    const infra = await start();
    // Start times count clock ticks (10 ms); a process started in the same tick would look the same.
    await sleep(50);
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((done) => other.once('exit', done));
    try {
      const recycled: InfraProcess = { ...infra, pid: other.pid ?? 0 };
      expect(await isTrackedRunning(recycled)).toBe(false);
      await stopInfraProcess(recycled, 100);
      await sleep(200);
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
    } finally {
      other.kill('SIGKILL');
      await exited;
    }
  });

  test("the check every status call makes reads nothing, and tells a running infra process from one gone", async () => {
    const infra = await start();
    expect(trackedPidInUse(infra)).toBe(true);
    // A process of ours, so that it is reaped at once and no zombie keeps the pid.
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((done) => child.once('exit', done));
    const tracked = { pid: child.pid ?? 0, startTime: '' };
    expect(trackedPidInUse(tracked)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    expect(trackedPidInUse(tracked)).toBe(false);
  });

  test('a hostname without a pod UTS namespace is refused rather than renaming the host', async () => {
    const hostname = await readFile('/proc/sys/kernel/hostname', 'utf8');
    await expect(start({ namespaces: {}, hostname: 'renamed' })).rejects.toThrow(InvalidArgumentError);
    expect(await readFile('/proc/sys/kernel/hostname', 'utf8')).toBe(hostname);
  });
});
