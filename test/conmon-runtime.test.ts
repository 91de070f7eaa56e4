import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OCI_HANDLER_DEFAULTS } from '../config/config';
import { ConmonRuntime } from '../oci/conmon/conmon-runtime';
import { newId } from '../system/ids';
import { mountRootfs, removeRootfs, type ContainerRootfs } from '../storage/rootfs';
import { DeadlineExceededError, InvalidArgumentError } from '../system/errors';
import { createLogger } from '../system/logger';
import { readMountInfo } from '../system/mountinfo';
import { makeBusyboxLayer } from './support/busybox-layer';
import { CGROUP_ROOT, cgroupDirs, exists, removeCgroupTree, testSpec, waitFor } from './support/runc-containers';

// runc and crun are driven by the same wrapper: each behaviour holds for both.
describe.each(['runc', 'crun'])('conmon runtime with %s', (runtimeName) => {
  const cgroupParent = `/podvisor-test-${newId().slice(0, 12)}`;
  let scratch: string;
  let layer: string;
  let runtime: ConmonRuntime;
  let options: ConstructorParameters<typeof ConmonRuntime>[0];
  let containers: { id: string; rootfs: ContainerRootfs }[] = [];
  const logger = createLogger('error', 'text');

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'podvisor-conmon-'));
    layer = join(scratch, 'layer');
    await makeBusyboxLayer(layer);
    options = {
      runtimePath: `/usr/bin/${runtimeName}`,
      conmonPath: '/usr/bin/conmon',
      runtimeRoot: join(scratch, 'run', runtimeName),
      exitsDir: join(scratch, 'run', 'exits'),
      persistDir: join(scratch, 'run', 'conmon'),
      logger,
      cgroupManager: 'cgroupfs',
      runtimeTimeoutMs: OCI_HANDLER_DEFAULTS.runtime_timeout_seconds * 1000,
    };
    runtime = new ConmonRuntime(options);
  });

  afterEach(async () => {
    for (const { id, rootfs } of containers) {
      await runtime.delete(id);
      await removeRootfs(rootfs);
    }
    containers = [];
  });

  afterAll(async () => {
    await removeCgroupTree(cgroupParent);
    await rm(scratch, { recursive: true, force: true });
  });

  /** Makes a bundle over an overlay rootfs and has conmon create the container in it. */
  async function create(args: string[], memoryLimit?: number): Promise<{ id: string; logPath: string; pid: number; conmonPid: number }> {
    const id = newId();
    const rootfs = await mountRootfs(join(scratch, 'containers', id), [layer]);
    containers.push({ id, rootfs });
    const bundle = join(rootfs.dir, 'bundle');
    await mkdir(bundle, { recursive: true });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(testSpec(rootfs.mountPoint, args, `${cgroupParent}/${id}`, { memoryLimit })));
    const logPath = join(scratch, 'logs', `${id}.log`);
    await mkdir(join(scratch, 'logs'), { recursive: true });
    const created = await runtime.create({ id, podId: 'conmon-pod', bundle, logPath, terminal: false, stdin: false, stdinOnce: false, podCgroupPath: cgroupParent, timeoutMs: 20_000 });
    return { id, logPath, ...created };
  }

  async function logLines(path: string): Promise<string[]> {
    return (await readFile(path, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
  }

  it('runs a container, logs in CRI format, execs in it and reopens its log', async () => {
    const { id, logPath, pid, conmonPid } = await create(['sh', '-c', 'echo hello; echo oops >&2; sleep 30']);
    expect(pid).toBeGreaterThan(0);
    expect(conmonPid).toBeGreaterThan(0);
    expect((await runtime.state(id)).status).toBe('created');
    await runtime.start(id);
    expect(await runtime.state(id)).toEqual({ status: 'running', pid });

    expect(await waitFor(async () => (await logLines(logPath)).length >= 2, 5000)).toBe(true);
    const lines = await logLines(logPath);
    const tagged = lines.map((line) => line.replace(/^\S+ /, ''));
    expect(tagged.sort()).toEqual(['stderr F oops', 'stdout F hello']);
    expect(Number.isNaN(Date.parse(lines[0].split(' ')[0]))).toBe(false);

    const hi = await runtime.execSync(id, ['echo', 'hi'], 10_000);
    expect(hi).toEqual({ stdout: Buffer.from('hi\n'), stderr: Buffer.alloc(0), exitCode: 0 });
    const failing = await runtime.execSync(id, ['sh', '-c', 'echo bad >&2; exit 3'], 10_000);
    expect(failing.exitCode).toBe(3);
    expect(failing.stderr.toString()).toBe('bad\n');

    const started = Date.now();
    await expect(runtime.execSync(id, ['sleep', '10'], 500)).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(Date.now() - started).toBeLessThan(5000);
    const procs = join(CGROUP_ROOT, 'pids', cgroupParent, id, 'cgroup.procs');
    expect(await waitFor(async () => (await readFile(procs, 'utf8')).trim() === String(pid), 5000)).toBe(true);

    const rotated = `${logPath}.1`;
    await rename(logPath, rotated);
    await runtime.reopenLog(id);
    expect(await waitFor(() => exists(logPath), 5000)).toBe(true);
    await runtime.execSync(id, ['sh', '-c', 'echo after-rotation > /proc/1/fd/1'], 10_000);
    expect(await waitFor(async () => (await logLines(logPath)).some((line) => line.endsWith('stdout F after-rotation')), 5000)).toBe(true);
    expect(await logLines(rotated)).toHaveLength(2);
  });

  it('stops a container that ignores SIGTERM with SIGKILL after the timeout and leaves nothing after delete', async () => {
    const { id, pid, conmonPid } = await create(['sh', '-c', 'trap "" TERM; sleep 60']);
    await runtime.start(id);
    // conmon was moved into a child of the pod cgroup before it started the runtime.
    const conmonCgroup = `${cgroupParent}/podvisor-conmon-${id}`;
    expect(await readFile(`/proc/${conmonPid}/cgroup`, 'utf8')).toMatch(new RegExp(`^\\d+:memory:${conmonCgroup}$`, 'm'));
    expect(await readFile(join(CGROUP_ROOT, 'memory', conmonCgroup, 'cgroup.procs'), 'utf8')).toBe(`${conmonPid}\n`);
    const before = Date.now();
    await runtime.stop(id, 'SIGTERM', 1000);
    expect(Date.now() - before).toBeGreaterThanOrEqual(1000);
    const state = await runtime.state(id);
    expect(state).toMatchObject({ status: 'stopped', exitCode: 137, oomKilled: false });
    expect(state.finishedAt!.getTime()).toBeGreaterThanOrEqual(before);
    await runtime.stop(id, 'SIGTERM', 1000);
    await runtime.kill(id, 'SIGKILL');

    await runtime.delete(id);
    await runtime.delete(id);
    expect(await runtime.state(id)).toEqual({ status: 'unknown', pid: 0 });
    expect(await exists(`/proc/${pid}`)).toBe(false);
    expect(await waitFor(async () => !(await exists(`/proc/${conmonPid}`)), 5000)).toBe(true);
    expect(await exists(join(options.runtimeRoot, id))).toBe(false);
    expect(await exists(join(options.persistDir, id))).toBe(false);
    expect(await cgroupDirs(join(cgroupParent, id))).toEqual([]);
    expect(await cgroupDirs(conmonCgroup)).toEqual([]);
    const entry = containers.find((container) => container.id === id)!;
    await removeRootfs(entry.rootfs);
    expect((await readMountInfo()).filter((mount) => mount.mountPoint.startsWith(scratch))).toEqual([]);
  });

  it('stops at once with SIGKILL when the timeout is 0', async () => {
    const { id } = await create(['sleep', '60']);
    await runtime.start(id);
    await runtime.stop(id, 'SIGTERM', 0);
    expect(await runtime.state(id)).toMatchObject({ status: 'stopped', exitCode: 137 });
  });

  it('stops a container whose conmon is gone, which leaves no exit file to wait for', async () => {
    const { id, pid, conmonPid } = await create(['sh', '-c', 'trap "exit 0" TERM; sleep 60 & wait']);
    await runtime.start(id);
    process.kill(conmonPid, 'SIGKILL');
    expect(await waitFor(async () => !(await exists(`/proc/${conmonPid}`)), 5000)).toBe(true);
    await runtime.stop(id, 'SIGTERM', 10_000);
    // With no conmon to reap it, the process may linger as a zombie for a while; it runs no more.
    expect((await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => 'gone')).split(' ')[2] ?? 'gone').toMatch(/^(Z|X|gone)$/);
    expect(await runtime.state(id)).toMatchObject({ status: 'stopped', pid: 0 });
  });

  it('reports exits to a watcher once, and finds exits that happened while no one watched', async () => {
    const unwatched = await create(['sh', '-c', 'exit 7']);
    await runtime.start(unwatched.id);
    expect(await waitFor(async () => (await runtime.state(unwatched.id)).exitCode === 7, 5000)).toBe(true);

    const restarted = new ConmonRuntime(options);
    const seen: { id: string; exitCode: number }[] = [];
    const stop = restarted.watchExits(({ id, exitCode }) => {
      seen.push({ id, exitCode });
    });
    try {
      const pending = await restarted.pendingExits();
      expect(pending.map(({ id, exitCode }) => ({ id, exitCode }))).toEqual([{ id: unwatched.id, exitCode: 7 }]);
      expect(Math.abs(Date.now() - pending[0].at.getTime())).toBeLessThan(60_000);

      const watched = await create(['sh', '-c', 'exit 5']);
      await restarted.start(watched.id);
      expect(await waitFor(async () => seen.length > 0, 5000)).toBe(true);
      await sleep(300);
      expect(seen).toEqual([{ id: watched.id, exitCode: 5 }]);
    } finally {
      stop();
    }
  });

  it('reports a container killed for exceeding its memory limit as OOM-killed', async () => {
    const { id } = await create(['sh', '-c', 'a=x; while true; do a=$a$a; done'], 8 * 1024 * 1024);
    await runtime.start(id);
    expect(await waitFor(async () => (await runtime.state(id)).status === 'stopped', 15_000)).toBe(true);
    expect(await runtime.state(id)).toMatchObject({ status: 'stopped', exitCode: 137, oomKilled: true });
  });

  it('fails a create with what conmon said, not at its deadline, when conmon ends before it is let go, and leaves nothing behind', async () => {
    const pidFile = join(scratch, 'dying-conmon.pid');
    const dying = join(scratch, 'dying-conmon');
    await writeFile(dying, `#!/bin/sh\necho $$ > ${pidFile}\necho "conmon: cannot start" >&2\nexit 1\n`, { mode: 0o755 });
    // No cgroup of its own to join (systemd's), so nothing but the bundle holds the letting go.
    const broken = new ConmonRuntime({ ...options, conmonPath: dying, cgroupManager: 'systemd' });
    const id = newId();
    const rootfs = await mountRootfs(join(scratch, 'containers', id), [layer]);
    containers.push({ id, rootfs });
    const bundle = join(rootfs.dir, 'bundle');
    await mkdir(bundle, { recursive: true });
    // The bundle is "written" only once conmon is gone: Node has drained its pipes by then, so its report must have been heard from the start.
    const gone = async (): Promise<boolean> => {
      const pid = (await readFile(pidFile, 'utf8').catch(() => '')).trim();
      return pid !== '' && !(await exists(`/proc/${pid}`));
    };
    const bundleWritten = waitFor(gone, 10_000);
    const failure = broken.create({ id, podId: 'conmon-pod', bundle, bundleWritten, logPath: join(scratch, 'logs', `${id}.log`), terminal: false, stdin: false, stdinOnce: false, podCgroupPath: cgroupParent, timeoutMs: 20_000 });
    await expect(failure).rejects.toThrow(/conmon exited without creating the container: conmon: cannot start/);
    expect(await bundleWritten).toBe(true);
    expect(await exists(join(options.persistDir, id))).toBe(false);
  });

  it('surfaces the runtime error when a container cannot be created and leaves nothing behind', async () => {
    // A program that is not there is the request's fault, and said so.
    const failure = create(['/no/such/program']);
    await expect(failure).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(failure).rejects.toThrow(/no\/such\/program/);
    const { id } = containers[containers.length - 1];
    expect(await runtime.state(id)).toEqual({ status: 'unknown', pid: 0 });
    expect(await exists(join(options.persistDir, id))).toBe(false);
    expect(await exists(join(options.runtimeRoot, id))).toBe(false);
  });
});
