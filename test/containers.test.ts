// Containers through the real daemon: an image from a real registry, overlay root
// filesystems, conmon and runc, in a pod on a real bridge.
import { status as Code, type Client } from '@grpc/grpc-js';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ContainerConfig,
  ContainerEventType,
  ContainerState,
  type ContainerEventResponse,
  type GetEventsRequest,
  LinuxContainerResources,
  RuntimeServiceService,
  SecurityProfile_ProfileType,
} from '../proto/gen/cri-api-v1';
import { pathExists } from '../system/path-exists';
import { unary } from '../testbed/cri-client';
import type { DaemonProcess, TestDirs } from '../testbed/daemon-process';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';
import { CGROUP_ROOT } from './support/runc-containers';

describe('containers', () => {
  let fixture: ContainerDaemon | undefined;
  let dirs: TestDirs;
  let daemon: DaemonProcess;
  let client: Client;
  let image: string;
  let podId: string;

  const create = async (name: string, command: string[], extra: Parameters<typeof ContainerConfig.fromPartial>[0] = {}): Promise<string> =>
    (
      await unary(client, RuntimeServiceService.createContainer, {
        podSandboxId: podId,
        config: ContainerConfig.fromPartial({ metadata: { name }, image: { image }, command, logPath: `${name}.log`, labels: { name }, ...extra }),
        sandboxConfig: undefined,
      })
    ).containerId;
  const start = (id: string) => unary(client, RuntimeServiceService.startContainer, { containerId: id });
  const status = async (id: string) => (await unary(client, RuntimeServiceService.containerStatus, { containerId: id, verbose: false })).status;
  const stop = (id: string, timeout: bigint) => unary(client, RuntimeServiceService.stopContainer, { containerId: id, timeout });
  const remove = (id: string) => unary(client, RuntimeServiceService.removeContainer, { containerId: id });
  const exec = (id: string, cmd: string[], timeout = 5n) => unary(client, RuntimeServiceService.execSync, { containerId: id, cmd, timeout });

  async function waitForState(id: string, state: ContainerState): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await status(id))?.state === state) return;
      await sleep(100);
    }
    throw new Error(`container ${id} never reached state ${state}`);
  }

  beforeAll(async () => {
    fixture = await ContainerDaemon.start('10.219.9.0/24');
    ({ dirs, daemon, client, image } = fixture);
    podId = await fixture.runPod('ctr', '');
  });

  afterAll(() => fixture?.close(), CLOSE_MS);

  test('a container runs, logs in CRI format, answers exec, stops, and is removed', async () => {
    const id = await create('web', ['sh', '-c', 'echo hello; echo oops >&2; exec sleep 300']);
    expect((await status(id))?.state).toBe(ContainerState.CONTAINER_CREATED);
    await start(id);
    const running = await status(id);
    expect(running).toMatchObject({ state: ContainerState.CONTAINER_RUNNING, logPath: join(dirs.dir, 'logs', 'ctr', 'web.log'), user: { linux: { uid: 0n, gid: 0n } } });
    const verbose = await unary(client, RuntimeServiceService.containerStatus, { containerId: id, verbose: true });
    const info = JSON.parse(verbose.info.info) as { pid: number; runtimeSpec: { process: { args: string[] } } };
    expect(info.pid).toBeGreaterThan(1);
    expect(info.runtimeSpec.process.args).toEqual(['sh', '-c', 'echo hello; echo oops >&2; exec sleep 300']);
    expect(running?.startedAt).toBeGreaterThan(0n);

    await sleep(300);
    const log = await readFile(join(dirs.dir, 'logs', 'ctr', 'web.log'), 'utf8');
    expect(log).toMatch(/^\S+ stdout F hello$/m);
    expect(log).toMatch(/^\S+ stderr F oops$/m);

    const hi = await exec(id, ['echo', 'hi']);
    expect([hi.stdout.toString(), hi.exitCode]).toEqual(['hi\n', 0]);
    expect((await exec(id, ['sh', '-c', 'exit 3'])).exitCode).toBe(3);
    const slow = await grpcFailure(exec(id, ['sleep', '30'], 1n));
    expect(slow.code).toBe(Code.DEADLINE_EXCEEDED);

    const listed = await unary(client, RuntimeServiceService.listContainers, { filter: { id: '', podSandboxId: podId, state: { state: ContainerState.CONTAINER_RUNNING }, labelSelector: { name: 'web' } } });
    expect(listed.containers.map((container) => container.id)).toEqual([id]);

    // The kubelet's rotation: move the log away, reopen, and the new file is there on return.
    const logFile = join(dirs.dir, 'logs', 'ctr', 'web.log');
    await rename(logFile, `${logFile}.1`);
    await unary(client, RuntimeServiceService.reopenContainerLog, { containerId: id });
    expect(await pathExists(logFile)).toBe(true);

    await stop(id, 1n);
    await stop(id, 1n);
    const stopped = await status(id);
    expect(stopped).toMatchObject({ state: ContainerState.CONTAINER_EXITED, reason: 'Error' });
    expect(stopped?.finishedAt).toBeGreaterThan(stopped?.startedAt ?? 0n);
    await remove(id);
    await remove(id);
    expect((await grpcFailure(status(id))).code).toBe(Code.NOT_FOUND);
    // Its name is free at once, while its parts may still be being taken apart.
    const again = await create('web', ['sleep', '300']);
    expect(again).not.toBe(id);
    await remove(again);
    // Nothing of it is left once it is taken apart: no mount, no cgroup, no process.
    await fixture?.removalsDone();
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(id);
    expect(await pathExists(join('/sys/fs/cgroup/memory/podvisor', `pod-${podId}`, `ctr-${id}`))).toBe(false);
    expect(await pathExists(`/proc/${info.pid}/status`)).toBe(false);
  });

  test('stats report CPU, memory and the writable layer of a running container', async () => {
    const limit = 64n * 1024n * 1024n;
    const id = await create('busy', ['sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1k count=64; while true; do :; done'], { linux: { resources: { memoryLimitInBytes: limit } } });
    await start(id);
    await sleep(300);
    const first = (await unary(client, RuntimeServiceService.containerStats, { containerId: id })).stats;
    expect(first?.attributes?.id).toBe(id);
    expect(first?.cpu?.usageCoreNanoSeconds?.value).toBeGreaterThan(0n);
    const memory = first?.memory;
    const workingSet = memory?.workingSetBytes?.value ?? 0n;
    expect(workingSet).toBeGreaterThan(0n);
    expect(memory?.usageBytes?.value).toBeGreaterThanOrEqual(workingSet);
    expect(memory?.rssBytes?.value).toBeGreaterThan(0n);
    expect(memory?.pageFaults?.value).toBeGreaterThan(0n);
    expect(memory?.majorPageFaults).toBeDefined();
    // What is left below the container's limit.
    expect(memory?.availableBytes?.value).toBe(limit - workingSet);
    expect(first?.writableLayer?.usedBytes?.value).toBeGreaterThanOrEqual(64n * 1024n);
    await sleep(300);
    const listed = await unary(client, RuntimeServiceService.listContainerStats, { filter: { id: '', podSandboxId: podId, labelSelector: { name: 'busy' } } });
    expect(listed.stats.map((stats) => stats.attributes?.id)).toEqual([id]);

    // The pod's own cgroup holds the busy container, so the pod is at least as busy.
    const pod = (await unary(client, RuntimeServiceService.podSandboxStats, { podSandboxId: podId })).stats;
    expect(pod?.attributes?.id).toBe(podId);
    expect(pod?.linux?.cpu?.usageCoreNanoSeconds?.value).toBeGreaterThanOrEqual(first?.cpu?.usageCoreNanoSeconds?.value ?? 1n);
    expect(pod?.linux?.memory?.workingSetBytes?.value).toBeGreaterThan(0n);
    // The pod has no limit of its own; the busy shell at least runs in it.
    expect(pod?.linux?.memory?.availableBytes).toBeUndefined();
    expect(pod?.linux?.process?.processCount?.value).toBeGreaterThanOrEqual(1n);
    expect(pod?.linux?.containers.map((stats) => stats.attributes?.id)).toContain(id);
    const pods = await unary(client, RuntimeServiceService.listPodSandboxStats, { filter: { id: podId.slice(0, 8), labelSelector: {} } });
    expect(pods.stats.map((stats) => stats.attributes?.id)).toEqual([podId]);
    await remove(id);
  });

  test('GetContainerEvents streams created, started, stopped and deleted', async () => {
    const events: { id: string; type: ContainerEventType }[] = [];
    const stream = client.makeServerStreamRequest(
      RuntimeServiceService.getContainerEvents.path,
      (value: GetEventsRequest) => RuntimeServiceService.getContainerEvents.requestSerialize(value),
      (value: Buffer) => RuntimeServiceService.getContainerEvents.responseDeserialize(value),
      {},
    );
    stream.on('data', (event: ContainerEventResponse) => events.push({ id: event.containerId, type: event.containerEventType }));
    stream.on('error', () => undefined);
    try {
      await sleep(100);
      const id = await create('evented', ['sleep', '300']);
      await start(id);
      await stop(id, 0n);
      await remove(id);
      await sleep(200);
      expect(events.filter((event) => event.id === id).map((event) => event.type)).toEqual([
        ContainerEventType.CONTAINER_CREATED_EVENT,
        ContainerEventType.CONTAINER_STARTED_EVENT,
        ContainerEventType.CONTAINER_STOPPED_EVENT,
        ContainerEventType.CONTAINER_DELETED_EVENT,
      ]);
    } finally {
      stream.cancel();
    }
  });

  test('a container that exits by itself is reported with its exit code', async () => {
    const id = await create('quits', ['sh', '-c', 'exit 3']);
    await start(id);
    await waitForState(id, ContainerState.CONTAINER_EXITED);
    expect(await status(id)).toMatchObject({ exitCode: 3, reason: 'Error' });
    await remove(id);
  });

  test('seccomp RuntimeDefault blocks what the default profile blocks; Unconfined does not', async () => {
    const confined = await create('confined', ['sleep', '300'], { linux: { securityContext: { seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault } } } });
    const free = await create('free', ['sleep', '300'], { linux: { securityContext: { seccomp: { profileType: SecurityProfile_ProfileType.Unconfined } } } });
    await start(confined);
    await start(free);
    // A new user namespace needs no capability, so only seccomp stands in the way.
    const blocked = await exec(confined, ['busybox', 'unshare', '-U', 'true']);
    expect(blocked.exitCode).not.toBe(0);
    expect(blocked.stderr.toString()).toMatch(/not permitted/i);
    expect((await exec(free, ['busybox', 'unshare', '-U', 'true'])).exitCode).toBe(0);
    await remove(confined);
    await remove(free);
  });

  test('the configured default capabilities are what a container holds, reloaded on SIGHUP', async () => {
    const reload = async (config: string): Promise<void> => {
      const reloads = daemon.log.split('config reloaded').length;
      await writeFile(dirs.configFile, config);
      daemon.child.kill('SIGHUP');
      for (let i = 0; i < 100 && daemon.log.split('config reloaded').length === reloads; i++) await sleep(50);
    };
    const effective = async (id: string): Promise<string> => /^CapEff:\s*(\S+)$/m.exec((await exec(id, ['cat', '/proc/self/status'])).stdout.toString())?.[1] ?? '';
    await reload('[container]\ndefault_capabilities = ["CHOWN", "KILL"]\n');
    try {
      const narrow = await create('narrow', ['sleep', '300']);
      await start(narrow);
      // CAP_CHOWN is bit 0 and CAP_KILL bit 5.
      expect(BigInt(`0x${await effective(narrow)}`)).toBe(0x21n);
      await remove(narrow);
    } finally {
      await reload('');
    }
    const usual = await create('usual', ['sleep', '300']);
    await start(usual);
    expect(BigInt(`0x${await effective(usual)}`)).toBe(0xa80425fbn);
    await remove(usual);
  });

  test('AppArmor asked for on a host without it is refused, and leaves nothing behind', async () => {
    // This daemon's mounts only: other processes on the host may mount meanwhile.
    const ownMounts = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => line.includes(dirs.dir)).length;
    // conmon starts while the bundle is written; the refusal must take it and its cgroup away.
    const ownConmons = async () => {
      const cmdlines = await Promise.all((await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
      return cmdlines.filter((cmdline) => cmdline.startsWith('/usr/bin/conmon\0') && cmdline.includes(dirs.dir)).length;
    };
    const conmonCgroups = async () => (await readdir(join(CGROUP_ROOT, 'memory', 'podvisor', `pod-${podId}`))).filter((name) => name.startsWith('podvisor-conmon-')).length;
    await fixture?.removalsDone();
    const [mountsBefore, conmonsBefore, cgroupsBefore] = [await ownMounts(), await ownConmons(), await conmonCgroups()];
    const refused = await grpcFailure(create('armored', ['sleep', '300'], { linux: { securityContext: { apparmor: { profileType: SecurityProfile_ProfileType.RuntimeDefault } } } }));
    expect([refused.code, refused.details]).toEqual([Code.FAILED_PRECONDITION, 'AppArmor is not enabled on this host']);
    expect([await ownMounts(), await ownConmons(), await conmonCgroups()]).toEqual([mountsBefore, conmonsBefore, cgroupsBefore]);
    // The name is free again, and an unconfined container is fine.
    await remove(await create('armored', ['sleep', '300'], { linux: { securityContext: { apparmor: { profileType: SecurityProfile_ProfileType.Unconfined } } } }));
  });

  test('UpdateContainerResources changes the live cgroup and the reported resources', async () => {
    const id = await create('resized', ['sleep', '300'], { linux: { resources: { memoryLimitInBytes: 64n * 1024n * 1024n } } });
    await start(id);
    await unary(client, RuntimeServiceService.updateContainerResources, {
      containerId: id,
      linux: LinuxContainerResources.fromPartial({ memoryLimitInBytes: 32n * 1024n * 1024n, cpuShares: 512n }),
      windows: undefined,
      annotations: {},
    });
    expect((await status(id))?.resources?.linux).toMatchObject({ memoryLimitInBytes: 32n * 1024n * 1024n, cpuShares: 512n });
    const limit = (await exec(id, ['cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes'])).stdout.toString().trim();
    expect(limit).toBe(String(32 * 1024 * 1024));
    await remove(id);
  });

  test('a container killed for exceeding its memory limit is reported OOMKilled', async () => {
    const id = await create('hog', ['sh', '-c', 'a=x; while true; do a=$a$a; done'], { linux: { resources: { memoryLimitInBytes: 16n * 1024n * 1024n } } });
    await start(id);
    await waitForState(id, ContainerState.CONTAINER_EXITED);
    expect(await status(id)).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    await remove(id);
  });

  test('containers keep running across a daemon restart, and an exit while it was down is recorded', async () => {
    const lasting = await create('lasting', ['sleep', '300']);
    const brief = await create('brief', ['sh', '-c', 'sleep 1; exit 5']);
    await start(lasting);
    await start(brief);
    await fixture?.restart(2000);
    ({ daemon, client } = fixture as ContainerDaemon);
    expect((await status(lasting))?.state).toBe(ContainerState.CONTAINER_RUNNING);
    expect((await exec(lasting, ['echo', 'still here'])).stdout.toString()).toBe('still here\n');
    expect(await status(brief)).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 5 });
    await remove(lasting);
    await remove(brief);
  });

  test('creating in an unknown pod or from an image not pulled is refused by name', async () => {
    const noPod = await grpcFailure(
      unary(client, RuntimeServiceService.createContainer, { podSandboxId: 'ffff', config: ContainerConfig.fromPartial({ metadata: { name: 'x' }, image: { image } }), sandboxConfig: undefined }),
    );
    expect(noPod.code).toBe(Code.NOT_FOUND);
    const noImage = await grpcFailure(create('x', ['sh'], { image: { image: `${fixture?.registryHost}/test/absent:1` } }));
    expect([noImage.code, noImage.details]).toEqual([Code.NOT_FOUND, `image "${fixture?.registryHost}/test/absent:1" not found; pull it first`]);
    // The name was released: it can be used now.
    await remove(await create('x', ['sh']));
  });

  test('stopping the pod kills its containers; removing it removes them', async () => {
    const id = await create('inpod', ['sleep', '300']);
    await start(id);
    const removedFirst = await create('removed-first', ['sleep', '300']);
    await start(removedFirst);
    await unary(client, RuntimeServiceService.stopPodSandbox, { podSandboxId: podId });
    expect((await status(id))?.state).toBe(ContainerState.CONTAINER_EXITED);
    // Removed just before its pod: the pod's removal answers only once that one is taken apart too.
    await remove(removedFirst);
    await unary(client, RuntimeServiceService.removePodSandbox, { podSandboxId: podId });
    expect((await grpcFailure(status(id))).code).toBe(Code.NOT_FOUND);
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(removedFirst);
    expect(await readdir(join(dirs.root, 'removed', 'containers'))).toEqual([]);
    // runc made the container's cgroup in every hierarchy, named ones included; none of the pod's is left.
    const hierarchies = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => / - cgroup2? /.test(line)).map((line) => line.split(' ')[4]);
    for (const root of hierarchies) expect(await pathExists(join(root, 'podvisor', `pod-${podId}`))).toBe(false);
    podId = '';
  });
});
