// The RuntimeHandler contract as the kubelet and crictl see it: one real daemon, driven through
// its CRI socket, and the same cases run against every handler type in HANDLERS. Each case
// asserts what a user would notice (states, exit codes, output), never how a handler does it;
// what only one handler type can do (make its sandbox die) is that type's fixture.
import { status as Code } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { defaultConfig, type HandlerType } from '../config/config';
import {
  ContainerEventType,
  ContainerState,
  LinuxContainerResources,
  NamespaceMode,
  PodSandboxState,
  RuntimeServiceService as Runtime,
  containerEventTypeToJSON,
  containerStateToJSON,
  type ContainerEventResponse,
  podSandboxStateToJSON,
} from '../proto/gen/cri-api-v1';
import { newId } from '../system/ids';
import { isProcessRunning } from '../system/process-stat';
import { waitUntil } from '../system/wait-until';
import { unary, type MethodDefinition } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon, type ContainerOptions, type PodOptions } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';
import { mountPoints } from './support/net-tools';
import { openExecStreams, readAll, upgradeOrFail } from './support/spdy-client';
import { channelText, connectWs } from './support/ws-client';

// Bounds for a loaded machine running VMs under TCG, not statements about speed.
const WAIT_MS = 30_000;
const POLL_MS = 100;
// A VM pod's cold boot under TCG takes seconds, several times over on a busy machine.
const CASE_TIMEOUT_MS = 180_000;
const V4 = ['v4.channel.k8s.io'];

/** What the suite needs of one handler type beyond its name. */
interface HandlerFixture {
  /** The RuntimeClass handler name pods ask for. */
  handler: string;
  type: HandlerType;
  /** What a pod's config needs so that killSandbox has something to kill. */
  mortalPod: PodOptions;
  /** Makes the pod's sandbox die on its own, as a crash would: no CRI call. */
  killSandbox(daemon: ContainerDaemon, podId: string): Promise<void>;
  /**
   * Whether containers' output reaches their logs while the daemon is down (conmon writes
   * them); otherwise it waits, unlost, until the daemon is back.
   */
  logsWhileDaemonDown: boolean;
}

/** A process the pod's handler state (verbose PodSandboxStatus) names, by its path in that state. */
async function handlerPid(daemon: ContainerDaemon, podId: string, key: 'infra' | 'qemu'): Promise<number> {
  const { info } = await unary(daemon.client, Runtime.podSandboxStatus, { podSandboxId: podId, verbose: true });
  const pid = (JSON.parse(info.info ?? '{}') as { handlerState?: Record<string, { pid?: number } | undefined> }).handlerState?.[key]?.pid;
  if (pid === undefined) throw new Error(`pod ${podId} has no ${key} process`);
  return pid;
}

async function killProcess(pid: number, what: string): Promise<void> {
  process.kill(pid, 'SIGKILL');
  if (!(await waitUntil(async () => !(await isProcessRunning(pid)), WAIT_MS, POLL_MS))) throw new Error(`${what} ${pid} outlived SIGKILL`);
}

/** conmon + an OCI runtime: a pod-wide PID namespace is what gets an infra process, and killing it ends the sandbox. */
function ociFixture(handler: string): HandlerFixture {
  return {
    handler,
    type: 'oci',
    mortalPod: { linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.POD, ipc: NamespaceMode.POD } } } },
    killSandbox: async (daemon, podId) => killProcess(await handlerPid(daemon, podId, 'infra'), `infra process of pod ${podId}`),
    logsWhileDaemonDown: true,
  };
}

/** A VM per pod: the sandbox is QEMU, and killing it ends the guest with everything in it. */
function vmFixture(handler: string): HandlerFixture {
  return {
    handler,
    type: 'vm',
    mortalPod: {},
    killSandbox: async (daemon, podId) => killProcess(await handlerPid(daemon, podId, 'qemu'), `QEMU of pod ${podId}`),
    // The guest agent holds the output until the daemon reconnects.
    logsWhileDaemonDown: false,
  };
}

/** Each handler type's fixture. */
const FIXTURES: Record<HandlerType, (handler: string) => HandlerFixture> = { oci: ociFixture, vm: vmFixture };

// One entry per configured handler (ContainerDaemon runs the default config: runc, crun and vm)
// whose type has a fixture and whose program this host has.
const HANDLERS: HandlerFixture[] = Object.entries(defaultConfig().runtime.handlers).flatMap(([name, config]) => {
  const program = config.type === 'oci' ? config.runtime_path : config.qemu_path;
  return existsSync(program) ? [FIXTURES[config.type](name)] : [];
});

describe('RuntimeHandler contract through the CRI', () => {
  let daemon: ContainerDaemon;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.26.0/24');
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  describe.each(HANDLERS)('$handler handler ($type)', (fixture) => {
    const { handler } = fixture;
    let pods: string[] = [];

    // The client is replaced when the daemon restarts, so every call takes the current one.
    const cri = <Request, Response>(method: MethodDefinition<Request, Response>, request: Request): Promise<Response> => unary(daemon.client, method, request);

    const runPod = async (name: string, extra: PodOptions = {}): Promise<string> => {
      const id = await daemon.runPod(`${handler}-${name}`, handler, extra);
      pods.push(id);
      return id;
    };
    const runContainer = async (podId: string, name: string, command: string[], extra: ContainerOptions = {}): Promise<string> => {
      const id = await daemon.createContainer(podId, name, command, extra);
      await cri(Runtime.startContainer, { containerId: id });
      return id;
    };
    const execSync = (containerId: string, cmd: string[], timeout = 5n) => cri(Runtime.execSync, { containerId, cmd, timeout });

    /** State names, so that a failure reads "SANDBOX_READY", not 0. */
    const podState = async (podSandboxId: string): Promise<string> => {
      const state = (await cri(Runtime.podSandboxStatus, { podSandboxId, verbose: false })).status?.state;
      return state === undefined ? 'none' : podSandboxStateToJSON(state);
    };
    const containerState = async (containerId: string): Promise<string> => {
      const state = (await daemon.status(containerId)).state;
      return state === undefined ? 'none' : containerStateToJSON(state);
    };
    /** The case's own pods as ListPodSandbox shows them: id to state. */
    const listedPods = async (): Promise<Record<string, string>> => {
      const { items } = await cri(Runtime.listPodSandbox, { filter: undefined });
      return Object.fromEntries(items.filter((pod) => pods.includes(pod.id)).map((pod) => [pod.id, podSandboxStateToJSON(pod.state)]));
    };
    /** The main process's pid as verbose ContainerStatus gives it (none unless it runs). */
    const verbosePid = async (containerId: string): Promise<number | undefined> =>
      (JSON.parse((await cri(Runtime.containerStatus, { containerId, verbose: true })).info.info) as { pid?: number }).pid;
    /** A pod's containers as ListContainers shows them: id to state. */
    const listedContainers = async (podSandboxId: string): Promise<Record<string, string>> => {
      const { containers } = await cri(Runtime.listContainers, { filter: { id: '', state: undefined, podSandboxId, labelSelector: {} } });
      return Object.fromEntries(containers.map((container) => [container.id, containerStateToJSON(container.state)]));
    };

    afterEach(async () => {
      // What a failed case left; a passing one removed its pods already (removal is idempotent).
      for (const podSandboxId of pods) await cri(Runtime.removePodSandbox, { podSandboxId }).catch(() => undefined);
      pods = [];
    });

    test(
      'pod and container lifecycle: each step shows in status and in the lists',
      async () => {
        const podId = await runPod('life');
        expect(await listedPods()).toEqual({ [podId]: 'SANDBOX_READY' });
        const podStatus = (await cri(Runtime.podSandboxStatus, { podSandboxId: podId, verbose: false })).status;
        expect([podStatus?.runtimeHandler, podStatus?.state]).toEqual([handler, PodSandboxState.SANDBOX_READY]);

        // Exits with 5 only if the stop signal reaches the container's own process. As PID 1 it
        // ignores a TERM that comes before its trap is set, so the stop waits for the trap.
        const id = await daemon.createContainer(podId, 'app', ['sh', '-c', 'trap "exit 5" TERM; touch /trapped; sleep 300 & wait']);
        expect([await containerState(id), await listedContainers(podId)]).toEqual(['CONTAINER_CREATED', { [id]: 'CONTAINER_CREATED' }]);
        await cri(Runtime.startContainer, { containerId: id });
        expect([await containerState(id), await listedContainers(podId)]).toEqual(['CONTAINER_RUNNING', { [id]: 'CONTAINER_RUNNING' }]);
        expect(await waitUntil(async () => (await execSync(id, ['test', '-e', '/trapped'])).exitCode === 0, WAIT_MS, POLL_MS)).toBe(true);

        await cri(Runtime.stopContainer, { containerId: id, timeout: 30n });
        expect(await daemon.status(id)).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 5, reason: 'Error' });
        expect(await listedContainers(podId)).toEqual({ [id]: 'CONTAINER_EXITED' });

        await cri(Runtime.removeContainer, { containerId: id });
        expect(await listedContainers(podId)).toEqual({});
        expect((await grpcFailure(daemon.status(id))).code).toBe(Code.NOT_FOUND);

        await cri(Runtime.stopPodSandbox, { podSandboxId: podId });
        expect([await podState(podId), await listedPods()]).toEqual(['SANDBOX_NOTREADY', { [podId]: 'SANDBOX_NOTREADY' }]);
        await cri(Runtime.removePodSandbox, { podSandboxId: podId });
        expect(await listedPods()).toEqual({});
        expect((await grpcFailure(podState(podId))).code).toBe(Code.NOT_FOUND);
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'a stop sent right after the start reaches a program that sets its handler late, not only its SIGKILL',
      async () => {
        const podId = await runPod('early-stop');
        // As PID 1 the shell drops a TERM that comes before its trap is set, a second after it starts.
        const id = await runContainer(podId, 'app', ['sh', '-c', 'sleep 1; trap "exit 7" TERM; sleep 300 & wait']);
        await cri(Runtime.stopContainer, { containerId: id, timeout: 60n });
        expect(await daemon.status(id)).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 7 });
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'stop and remove are idempotent; unknown IDs are fine to stop and remove, and not found by status',
      async () => {
        const podId = await runPod('twice');
        const id = await runContainer(podId, 'app', ['sleep', '300']);
        for (let i = 0; i < 2; i++) await cri(Runtime.stopContainer, { containerId: id, timeout: 0n });
        expect(await containerState(id)).toBe('CONTAINER_EXITED');
        for (let i = 0; i < 2; i++) await cri(Runtime.removeContainer, { containerId: id });
        for (let i = 0; i < 2; i++) await cri(Runtime.stopPodSandbox, { podSandboxId: podId });
        for (let i = 0; i < 2; i++) await cri(Runtime.removePodSandbox, { podSandboxId: podId });
        expect(await listedPods()).toEqual({});

        // IDs nothing ever had, and the ones just removed.
        for (const [podSandboxId, containerId] of [
          [newId(), newId()],
          [podId, id],
        ]) {
          await cri(Runtime.removeContainer, { containerId });
          await cri(Runtime.stopPodSandbox, { podSandboxId });
          await cri(Runtime.removePodSandbox, { podSandboxId });
          // CRI asks only that stopping a stopped container succeed; for one that does not exist
          // containerd and CRI-O answer NotFound, which the kubelet's killContainer accepts.
          expect((await grpcFailure(cri(Runtime.stopContainer, { containerId, timeout: 0n }))).code).toBe(Code.NOT_FOUND);
          expect((await grpcFailure(daemon.status(containerId))).code).toBe(Code.NOT_FOUND);
          expect((await grpcFailure(podState(podSandboxId))).code).toBe(Code.NOT_FOUND);
        }
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'a container that exits by itself is EXITED with its exit code: 3 is an Error, 0 Completed',
      async () => {
        const podId = await runPod('exits');
        const failing = await runContainer(podId, 'failing', ['sh', '-c', 'exit 3']);
        const succeeding = await runContainer(podId, 'succeeding', ['true']);
        for (const id of [failing, succeeding]) await daemon.waitForState(id, ContainerState.CONTAINER_EXITED);
        expect(await daemon.status(failing)).toMatchObject({ exitCode: 3, reason: 'Error' });
        expect(await daemon.status(succeeding)).toMatchObject({ exitCode: 0, reason: 'Completed' });
        expect(await listedContainers(podId)).toEqual({ [failing]: 'CONTAINER_EXITED', [succeeding]: 'CONTAINER_EXITED' });
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'ExecSync returns stdout, stderr and the exit code apart; past its timeout it fails DeadlineExceeded and the command is gone',
      async () => {
        const podId = await runPod('execsync');
        const id = await runContainer(podId, 'app', ['sleep', '300']);
        const result = await execSync(id, ['sh', '-c', 'echo out; echo err >&2; exit 4']);
        expect([result.stdout.toString(), result.stderr.toString(), result.exitCode]).toEqual(['out\n', 'err\n', 4]);

        const late = await grpcFailure(execSync(id, ['sleep', '31'], 1n));
        expect(late.code).toBe(Code.DEADLINE_EXCEEDED);
        const leftOver = async (): Promise<boolean> => (await execSync(id, ['ps'])).stdout.toString().includes('sleep 31');
        expect(await waitUntil(async () => !(await leftOver()), WAIT_MS, POLL_MS)).toBe(true);
        expect(await containerState(id)).toBe('CONTAINER_RUNNING');
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'Exec streams over SPDY and WebSocket, and Attach to a container with stdin and a tty',
      async () => {
        const podId = await runPod('streams');
        const idle = await runContainer(podId, 'idle', ['sleep', '300']);
        const execUrl = async (): Promise<string> => (await cri(Runtime.exec, { containerId: idle, cmd: ['echo', 'hi'], stdin: false, stdout: true, stderr: true, tty: false })).url;

        // The kubelet's and crictl's protocol.
        const { session } = await upgradeOrFail(await execUrl(), V4);
        const streams = await openExecStreams(session, { stdin: false, stdout: true, stderr: true, tty: false });
        const [stdout, stderr, error] = await Promise.all([readAll(streams.stdout as Readable), readAll(streams.stderr as Readable), readAll(streams.error)]);
        session.destroy();
        expect([stdout, stderr]).toEqual(['hi\n', '']);
        expect(JSON.parse(error)).toMatchObject({ status: 'Success' });

        // kubectl's.
        const ws = await connectWs(await execUrl(), ['v5.channel.k8s.io', ...V4]);
        const messages = await ws.messages;
        expect(channelText(messages, 1)).toBe('hi\n');
        expect(JSON.parse(channelText(messages, 3))).toMatchObject({ status: 'Success' });

        const echo = await runContainer(podId, 'echo', ['cat'], { stdin: true, tty: true });
        const { url } = await cri(Runtime.attach, { containerId: echo, stdin: true, tty: true, stdout: true, stderr: false });
        const attached = await upgradeOrFail(url, V4);
        const attachStreams = await openExecStreams(attached.session, { stdin: true, stdout: true, stderr: false, tty: true });
        let output = '';
        attachStreams.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
        attachStreams.stdin?.write('ping-42\n');
        // Twice: the terminal's echo of the line, then cat's copy of it.
        const copies = (): number => output.split('ping-42').length - 1;
        expect(await waitUntil(async () => copies() >= 2, WAIT_MS, POLL_MS)).toBe(true);
        attached.session.destroy();
        expect(await containerState(echo)).toBe('CONTAINER_RUNNING');
      },
      CASE_TIMEOUT_MS,
    );

    test(
      "PortForward reaches a server on the pod's localhost, two connections at once; a port nobody serves fails on the error stream",
      async () => {
        const podId = await runPod('forward');
        await runContainer(podId, 'httpd', ['sh', '-c', 'mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www']);
        const { url } = await cri(Runtime.portForward, { podSandboxId: podId, port: [8080, 8081] });
        const { session } = await upgradeOrFail(url, ['portforward.k8s.io']);
        let requestId = 0;
        const get = async (port: number): Promise<[string, string]> => {
          const headers = { port: [String(port)], requestid: [String(requestId++)] };
          const error = await session.openStream({ ...headers, streamtype: ['error'] });
          error.end();
          const data = await session.openStream({ ...headers, streamtype: ['data'] });
          data.end('GET /index.html HTTP/1.0\r\n\r\n');
          return Promise.all([readAll(data), readAll(error)]);
        };
        // httpd may still be starting: a refused connection shows on the error stream.
        expect(await waitUntil(async () => (await get(8080))[0].includes('hello-from-pod'), WAIT_MS, POLL_MS)).toBe(true);
        for (const [reply, failure] of await Promise.all([get(8080), get(8080)])) {
          expect(reply).toMatch(/^HTTP\/1\.[01] 200 OK[\s\S]*hello-from-pod\n$/);
          expect(failure).toBe('');
        }
        const [nothing, failure] = await get(8081);
        expect([nothing, failure]).toEqual(['', expect.stringContaining('8081')]);
        session.destroy();
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'UpdateContainerResources changes the memory limit the running container lives under, and the resources its status reports',
      async () => {
        const podId = await runPod('resize');
        const id = await runContainer(podId, 'app', ['sleep', '300'], { linux: { resources: { memoryLimitInBytes: 64n << 20n } } });
        const linux = LinuxContainerResources.fromPartial({ memoryLimitInBytes: 32n << 20n, cpuShares: 512n });
        await cri(Runtime.updateContainerResources, { containerId: id, linux, windows: undefined, annotations: {} });
        const { status } = await cri(Runtime.containerStatus, { containerId: id, verbose: false });
        expect(status?.resources?.linux).toMatchObject({ memoryLimitInBytes: 32n << 20n, cpuShares: 512n });
        // cgroup v2 in a VM's guest; v1 or v2 on the host, as the host has it.
        const limit = await execSync(id, ['sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes']);
        expect(limit.stdout.toString().trim()).toBe(String(32 << 20));
      },
      CASE_TIMEOUT_MS,
    );

    test(
      "GetContainerEvents streams a container's life: created, started, its own exit, deleted",
      async () => {
        const events: { id: string; type: string }[] = [];
        const { client } = daemon;
        const stream = client.makeServerStreamRequest(
          Runtime.getContainerEvents.path,
          (value: Parameters<typeof Runtime.getContainerEvents.requestSerialize>[0]) => Runtime.getContainerEvents.requestSerialize(value),
          (value: Buffer) => Runtime.getContainerEvents.responseDeserialize(value),
          {},
        );
        stream.on('data', (event: ContainerEventResponse) => events.push({ id: event.containerId, type: containerEventTypeToJSON(event.containerEventType) }));
        stream.on('error', () => undefined);
        try {
          const podId = await runPod('events');
          const id = await daemon.createContainer(podId, 'brief', ['sh', '-c', 'sleep 1; exit 3']);
          await cri(Runtime.startContainer, { containerId: id });
          await daemon.waitForState(id, ContainerState.CONTAINER_EXITED);
          await cri(Runtime.removeContainer, { containerId: id });
          const all = [ContainerEventType.CONTAINER_CREATED_EVENT, ContainerEventType.CONTAINER_STARTED_EVENT, ContainerEventType.CONTAINER_STOPPED_EVENT, ContainerEventType.CONTAINER_DELETED_EVENT].map(containerEventTypeToJSON);
          const seen = (): string[] => events.filter((event) => event.id === id).map((event) => event.type);
          expect(await waitUntil(async () => seen().length >= all.length, WAIT_MS, POLL_MS)).toBe(true);
          expect(seen()).toEqual(all);
        } finally {
          stream.cancel();
        }
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'stats of a running container and of its pod have CPU and memory figures, listed too',
      async () => {
        const podId = await runPod('stats');
        const id = await runContainer(podId, 'app', ['sh', '-c', 'i=0; while test $i -lt 20000; do i=$((i+1)); done; exec sleep 300']);
        const stats = (await cri(Runtime.containerStats, { containerId: id })).stats;
        expect(stats?.attributes?.id).toBe(id);
        expect(stats?.cpu?.usageCoreNanoSeconds?.value).toBeGreaterThan(0n);
        expect(stats?.memory?.workingSetBytes?.value).toBeGreaterThan(0n);

        const pod = (await cri(Runtime.podSandboxStats, { podSandboxId: podId })).stats;
        expect(pod?.attributes?.id).toBe(podId);
        expect(pod?.linux?.cpu?.usageCoreNanoSeconds?.value).toBeGreaterThan(0n);
        expect(pod?.linux?.memory?.workingSetBytes?.value).toBeGreaterThan(0n);
        expect(pod?.linux?.containers.map((container) => container.attributes?.id)).toEqual([id]);
        // The list verbs, as the kubelet's stats provider calls them.
        const listed = (await cri(Runtime.listContainerStats, { filter: { id: '', podSandboxId: podId, labelSelector: {} } })).stats;
        expect(listed.map((entry) => [entry.attributes?.id, (entry.memory?.workingSetBytes?.value ?? 0n) > 0n])).toEqual([[id, true]]);
        const listedPods = (await cri(Runtime.listPodSandboxStats, { filter: { id: podId, labelSelector: {} } })).stats;
        expect(listedPods.map((entry) => entry.attributes?.id)).toEqual([podId]);
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'after a daemon crash and restart, pods and containers are as they were; an exit while it was down is reported',
      async () => {
        const name = 'restart';
        const podId = await runPod(name);
        const lasting = await runContainer(podId, 'lasting', ['sleep', '300']);
        // Leaves when told through a host directory, which needs nothing of the daemon.
        const trigger = await mkdtemp(join(daemon.dirs.dir, 'trigger-'));
        const leaving = await runContainer(podId, 'leaving', ['sh', '-c', 'until test -e /trigger/go; do sleep 0.1; done; echo leaving; exit 6'], {
          mounts: [{ containerPath: '/trigger', hostPath: trigger }],
        });
        const logged = async (): Promise<boolean> => (await readFile(daemon.logFile(`${handler}-${name}`, 'leaving'), 'utf8').catch(() => '')).includes('leaving');
        const pid = await verbosePid(lasting);
        expect(pid).toBeGreaterThan(0);

        await daemon.restart(0, 'SIGKILL', async () => {
          await writeFile(join(trigger, 'go'), '');
          if (fixture.logsWhileDaemonDown) expect(await waitUntil(logged, WAIT_MS, POLL_MS)).toBe(true);
        });
        expect(await waitUntil(logged, WAIT_MS, POLL_MS)).toBe(true);

        expect([await podState(podId), await listedPods()]).toEqual(['SANDBOX_READY', { [podId]: 'SANDBOX_READY' }]);
        expect(await containerState(lasting)).toBe('CONTAINER_RUNNING');
        // The same process, known again without the runtime being asked.
        expect(await verbosePid(lasting)).toBe(pid);
        expect((await execSync(lasting, ['echo', 'still here'])).stdout.toString()).toBe('still here\n');
        await daemon.waitForState(leaving, ContainerState.CONTAINER_EXITED);
        expect(await daemon.status(leaving)).toMatchObject({ exitCode: 6, reason: 'Error' });
        expect(await verbosePid(leaving)).toBeUndefined();
        await cri(Runtime.removePodSandbox, { podSandboxId: podId });
      },
      CASE_TIMEOUT_MS,
    );

    test(
      'a sandbox that dies on its own reads NOTREADY, and stops and removes leaving nothing',
      async () => {
        const podId = await runPod('mortal', fixture.mortalPod);
        const id = await runContainer(podId, 'app', ['sleep', '300']);
        expect(await podState(podId)).toBe('SANDBOX_READY');

        await fixture.killSandbox(daemon, podId);
        // The kubelet, polling, must see that the pod is no longer ready, to stop it and make a new one.
        const noticed = await waitUntil(async () => (await podState(podId)) === 'SANDBOX_NOTREADY', WAIT_MS, POLL_MS);
        expect({ noticed, status: await podState(podId), listed: (await listedPods())[podId] }).toEqual({ noticed: true, status: 'SANDBOX_NOTREADY', listed: 'SANDBOX_NOTREADY' });

        // Whether the container died with the sandbox is the handler's business; stopped, it has.
        await cri(Runtime.stopPodSandbox, { podSandboxId: podId });
        expect(await containerState(id)).toBe('CONTAINER_EXITED');
        await cri(Runtime.removePodSandbox, { podSandboxId: podId });
        expect(await listedPods()).toEqual({});
        expect((await grpcFailure(podState(podId))).code).toBe(Code.NOT_FOUND);
        expect((await grpcFailure(daemon.status(id))).code).toBe(Code.NOT_FOUND);
        expect((await mountPoints()).filter((point) => point.includes(podId))).toEqual([]);
      },
      CASE_TIMEOUT_MS,
    );
  });
});
