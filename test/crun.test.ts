// crun beside runc through the real daemon: a pod on each handler at the same time, each
// container really run by its own runtime under conmon, conmon charged to its pod's cgroup,
// and nothing of either left after removal.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerState, RuntimeServiceService } from '../proto/gen/cri-api-v1';
import { pathExists } from '../system/path-exists';
import { isProcessRunning } from '../system/process-stat';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { command, mountPoints } from './support/net-tools';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The IDs a runtime lists in the state directory one handler gives it. */
async function runtimeList(daemon: ContainerDaemon, handler: string): Promise<string[]> {
  const root = join(daemon.dirs.runroot, 'handlers', handler, 'runtime');
  const listed = await command(`/usr/bin/${handler}`, ['--root', root, 'list', '--quiet']);
  return listed.split('\n').filter((line) => line !== '');
}

async function parentPid(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]);
}

/** The memory cgroup a process is in (a v1 hierarchy of its own on this host). */
async function memoryCgroup(pid: number): Promise<string> {
  return /^\d+:memory:(.*)$/m.exec(await readFile(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '';
}

/** Every cgroup directory of a pod, in any hierarchy. */
async function podCgroupDirs(podId: string): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await readdir(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, hierarchy, 'podvisor', `pod-${podId}`);
    if (await pathExists(dir)) found.push(dir);
  }
  return found;
}

describe('crun and runc handlers', () => {
  let daemon: ContainerDaemon;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.21.0/24');
  });

  afterAll(() => daemon?.close(), CLOSE_MS);

  test('a pod on crun and a pod on runc run at once, each container by its own runtime, and leave nothing', async () => {
    const pods = { crun: await daemon.runPod('on-crun', 'crun'), runc: await daemon.runPod('on-runc', 'runc') };
    const containers: Record<string, string> = {};
    const conmons: Record<string, number> = {};
    for (const [handler, podId] of Object.entries(pods)) {
      const podStatus = await unary(daemon.client, RuntimeServiceService.podSandboxStatus, { podSandboxId: podId, verbose: false });
      expect(podStatus.status?.runtimeHandler).toBe(handler);
      const id = await daemon.createContainer(podId, 'app', ['sh', '-c', 'trap "exit 5" TERM; echo started; sleep 300 & wait']);
      expect((await daemon.status(id)).state).toBe(ContainerState.CONTAINER_CREATED);
      await unary(daemon.client, RuntimeServiceService.startContainer, { containerId: id });
      const running = await daemon.status(id, true);
      expect(running.state).toBe(ContainerState.CONTAINER_RUNNING);
      containers[handler] = id;

      // The container's first process is a child of a conmon told to use this handler's runtime.
      const conmon = await parentPid(running.pid);
      expect((await readFile(`/proc/${conmon}/cmdline`, 'utf8')).split('\0')).toEqual(expect.arrayContaining(['--runtime', `/usr/bin/${handler}`, '--cid', id]));
      conmons[handler] = conmon;
      // conmon runs in a cgroup of its own below the pod's, the container in another.
      expect(await memoryCgroup(conmon)).toBe(`/podvisor/pod-${podId}/podvisor-conmon-${id}`);
      expect(await memoryCgroup(running.pid)).toMatch(new RegExp(`^/podvisor/pod-${podId}/`));

      const hi = await unary(daemon.client, RuntimeServiceService.execSync, { containerId: id, cmd: ['sh', '-c', 'echo hi; exit 4'], timeout: 5n });
      expect([hi.stdout.toString(), hi.exitCode]).toEqual(['hi\n', 4]);
      // A command that cannot start exits as a shell's would, with the runtime's reason on stderr.
      const missing = await unary(daemon.client, RuntimeServiceService.execSync, { containerId: id, cmd: ['/no/such/program'], timeout: 5n });
      expect([missing.exitCode, missing.stderr.toString()]).toEqual([127, expect.stringContaining('/no/such/program')]);
    }
    // Each runtime knows its own container and not the other's.
    expect(await runtimeList(daemon, 'crun')).toEqual([containers.crun]);
    expect(await runtimeList(daemon, 'runc')).toEqual([containers.runc]);
    expect(await readFile(daemon.logFile('on-crun', 'app'), 'utf8')).toMatch(/^\S+ stdout F started$/m);

    // A container that exits by itself on crun reports its exit code.
    const quits = await daemon.createContainer(pods.crun, 'quits', ['sh', '-c', 'exit 7']);
    await unary(daemon.client, RuntimeServiceService.startContainer, { containerId: quits });
    await daemon.waitForState(quits, ContainerState.CONTAINER_EXITED);
    expect(await daemon.status(quits)).toMatchObject({ exitCode: 7, reason: 'Error' });

    // The stop signal reaches the container's own handler, which picks the exit code.
    await unary(daemon.client, RuntimeServiceService.stopContainer, { containerId: containers.crun, timeout: 30n });
    expect(await daemon.status(containers.crun)).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 5 });
    await unary(daemon.client, RuntimeServiceService.removeContainer, { containerId: containers.crun });
    // RemoveContainer answers before the container is taken apart.
    await daemon.removalsDone();
    expect(await runtimeList(daemon, 'crun')).toEqual([quits]);
    expect(await pathExists(join(CGROUP_ROOT, 'memory', 'podvisor', `pod-${pods.crun}`, `podvisor-conmon-${containers.crun}`))).toBe(false);

    // Removing the pods takes the rest: the running runc container too.
    for (const podId of Object.values(pods)) await unary(daemon.client, RuntimeServiceService.removePodSandbox, { podSandboxId: podId });
    expect(await runtimeList(daemon, 'crun')).toEqual([]);
    expect(await runtimeList(daemon, 'runc')).toEqual([]);
    for (const podId of Object.values(pods)) expect(await podCgroupDirs(podId)).toEqual([]);
    for (const conmon of Object.values(conmons)) expect(await isProcessRunning(conmon)).toBe(false);
    const mounts = (await mountPoints()).join('\n');
    for (const id of [...Object.values(containers), ...Object.values(pods)]) expect(mounts).not.toContain(id);
  });
});
