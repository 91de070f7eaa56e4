// The kubelet's retries after its deadline, and calls on one object at once, through the CRI
// socket: a create whose client gave up is handed to its retry; calls on one pod or container
// answer as some serial order would; calls on different objects do not wait for each other.
import { status as Code, type ServiceError } from '@grpc/grpc-js';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ContainerConfig,
  ContainerState,
  PodSandboxConfig,
  PodSandboxState,
  RuntimeServiceService,
  type RunPodSandboxRequest,
} from '../proto/gen/cri-api-v1';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { ContainerDaemon } from './support/container-daemon';
import { auditNetwork, hostAudit, type AuditNetwork } from './support/host-audit';

const SUBNET = '10.219.47.0/24';
// Short enough that the pod or container is never ready in time; long enough to reach the daemon.
const GIVE_UP_MS = 30;
const UNCLAIMED_SECONDS = 3;
const WAIT_MS = 60_000;
const POLL_MS = 100;
const CASE_TIMEOUT_MS = 180_000;

/** Host processes in a container's own cgroup (ctr-<id> under its pod's; conmon's is apart). */
async function processesIn(containerId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cgroup = await readFile(`/proc/${entry}/cgroup`, 'utf8').catch(() => '');
    if (cgroup.includes(`/ctr-${containerId}`)) pids.push(Number(entry));
  }
  return pids;
}

function codeOf(outcome: PromiseSettledResult<unknown>): Code {
  return outcome.status === 'fulfilled' ? Code.OK : (outcome.reason as ServiceError).code;
}

describe('concurrent calls and retries through the CRI', () => {
  let fixture: ContainerDaemon;
  let network: AuditNetwork;

  beforeAll(async () => {
    fixture = await ContainerDaemon.start(SUBNET, { config: `unclaimed_result_seconds = ${UNCLAIMED_SECONDS}\n` });
    network = await auditNetwork(fixture.dirs);
  }, CASE_TIMEOUT_MS);

  afterAll(async () => {
    await fixture?.close();
  }, CASE_TIMEOUT_MS);

  const podRequest = (name: string, runtimeHandler = 'runc', extra: Parameters<typeof PodSandboxConfig.fromPartial>[0] = {}): RunPodSandboxRequest => ({
    config: PodSandboxConfig.fromPartial({ metadata: { name, namespace: 'retries', uid: `uid-${name}`, attempt: 0 }, hostname: name, ...extra }),
    runtimeHandler,
  });
  const runPod = (request: RunPodSandboxRequest, deadlineMs?: number): Promise<string> =>
    unary(fixture.client, RuntimeServiceService.runPodSandbox, request, deadlineMs).then((response) => response.podSandboxId);
  const podsNamed = async (name: string): Promise<{ id: string; state: PodSandboxState }[]> =>
    (await unary(fixture.client, RuntimeServiceService.listPodSandbox, { filter: undefined })).items.filter((pod) => pod.metadata?.name === name);
  const containersNamed = async (podSandboxId: string, name: string): Promise<{ id: string; state: ContainerState }[]> =>
    (await unary(fixture.client, RuntimeServiceService.listContainers, { filter: { id: '', state: undefined, podSandboxId, labelSelector: {} } })).containers.filter(
      (container) => container.metadata?.name === name,
    );
  const containerConfig = (name: string, command: string[]): ContainerConfig =>
    ContainerConfig.fromPartial({ metadata: { name }, image: { image: fixture.image }, command, logPath: `${name}.log` });
  const createContainer = (podSandboxId: string, config: ContainerConfig, deadlineMs?: number): Promise<string> =>
    unary(fixture.client, RuntimeServiceService.createContainer, { podSandboxId, config, sandboxConfig: undefined }, deadlineMs).then((response) => response.containerId);
  const start = (containerId: string): Promise<unknown> => unary(fixture.client, RuntimeServiceService.startContainer, { containerId });
  const stop = (containerId: string, timeout = 0): Promise<unknown> => unary(fixture.client, RuntimeServiceService.stopContainer, { containerId, timeout: BigInt(timeout) });
  const remove = (containerId: string): Promise<unknown> => unary(fixture.client, RuntimeServiceService.removeContainer, { containerId });
  const stateOf = async (containerId: string): Promise<ContainerState | undefined> =>
    (await unary(fixture.client, RuntimeServiceService.containerStatus, { containerId, verbose: false })).status?.state;
  const runningContainer = async (podSandboxId: string, name: string, command = ['sleep', '3600']): Promise<string> => {
    const id = await createContainer(podSandboxId, containerConfig(name, command));
    await start(id);
    return id;
  };

  describe.each(['runc', 'vm'])('%s pods', (handler) => {
    test(
      'a RunPodSandbox whose client gave up is handed to the same request sent again: one ready pod',
      async () => {
        const request = podRequest(`retried-${handler}`, handler);
        const first = await Promise.allSettled([runPod(request, GIVE_UP_MS)]);
        expect(codeOf(first[0])).toBe(Code.DEADLINE_EXCEEDED);
        const id = await runPod(request);
        expect(await podsNamed(`retried-${handler}`)).toEqual([expect.objectContaining({ id, state: PodSandboxState.SANDBOX_READY })]);
        await fixture.stopAndRemovePod(id);
      },
      CASE_TIMEOUT_MS,
    );
  });

  test(
    'a retry that arrives after the pod was made gets it at once; one that differs is refused naming the field',
    async () => {
      const request = podRequest('late-retry');
      await Promise.allSettled([runPod(request, GIVE_UP_MS)]);
      expect(await waitUntil(async () => (await podsNamed('late-retry')).length === 1, WAIT_MS, POLL_MS)).toBe(true);
      const [made] = await podsNamed('late-retry');

      const changed = { ...request, config: PodSandboxConfig.fromPartial({ ...request.config, hostname: 'another-host' }) };
      const refused = await Promise.allSettled([runPod(changed)]);
      expect(codeOf(refused[0])).toBe(Code.ALREADY_EXISTS);
      expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ details: expect.stringContaining('config.hostname') });

      expect(await runPod(request)).toBe(made.id);
      // Claimed: it outlives the time an unclaimed one is kept.
      await sleep(UNCLAIMED_SECONDS * 2000);
      expect(await podsNamed('late-retry')).toEqual([expect.objectContaining({ id: made.id, state: PodSandboxState.SANDBOX_READY })]);
      await fixture.stopAndRemovePod(made.id);
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'a pod made for a client that gave up and never came back is removed; one a status call named is kept',
    async () => {
      await Promise.allSettled([runPod(podRequest('abandoned'), GIVE_UP_MS), runPod(podRequest('adopted'), GIVE_UP_MS)]);
      expect(await waitUntil(async () => (await podsNamed('adopted')).length === 1, WAIT_MS, POLL_MS)).toBe(true);
      const [adopted] = await podsNamed('adopted');
      // The kubelet adopts a pod it finds by listing, through its status.
      await unary(fixture.client, RuntimeServiceService.podSandboxStatus, { podSandboxId: adopted.id, verbose: false });
      expect(await waitUntil(async () => (await podsNamed('abandoned')).length === 0, WAIT_MS, POLL_MS)).toBe(true);
      expect(await podsNamed('adopted')).toEqual([expect.objectContaining({ id: adopted.id })]);
      expect(fixture.daemon.log).toMatch(/removing what was created for a client that gave up.*k8s_POD_abandoned/);
      await fixture.stopAndRemovePod(adopted.id);
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'a CreateContainer whose client gave up is handed to its retry: one container',
    async () => {
      const podId = await runPod(podRequest('container-retry'));
      const config = containerConfig('app', ['sleep', '3600']);
      const first = await Promise.allSettled([createContainer(podId, config, GIVE_UP_MS)]);
      expect(codeOf(first[0])).toBe(Code.DEADLINE_EXCEEDED);
      const id = await createContainer(podId, config);
      expect(await containersNamed(podId, 'app')).toEqual([expect.objectContaining({ id, state: ContainerState.CONTAINER_CREATED })]);
      await start(id);
      expect(await stateOf(id)).toBe(ContainerState.CONTAINER_RUNNING);
      await fixture.stopAndRemovePod(podId);
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'StopPodSandbox during a CreateContainer in the pod: the container is made and stopped, or refused',
    async () => {
      const podId = await runPod(podRequest('stop-during-create'));
      const [created, stopped] = await Promise.allSettled([
        createContainer(podId, containerConfig('late', ['sleep', '3600'])),
        unary(fixture.client, RuntimeServiceService.stopPodSandbox, { podSandboxId: podId }),
      ]);
      expect(stopped.status).toBe('fulfilled');
      if (created.status === 'fulfilled') expect(await stateOf(created.value)).toBe(ContainerState.CONTAINER_EXITED);
      else expect(codeOf(created)).toBe(Code.FAILED_PRECONDITION);
      await fixture.stopAndRemovePod(podId);
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'StartContainer and StopContainer at once, and two stops: the container ends exited with nothing running',
    async () => {
      const podId = await runPod(podRequest('start-and-stop'));
      const id = await createContainer(podId, containerConfig('racer', ['sleep', '3600']));
      const [started, ...stops] = await Promise.allSettled([start(id), stop(id), stop(id)]);
      expect(stops.map(codeOf)).toEqual([Code.OK, Code.OK]);
      // Either the start came first and the stops ended it, or a stop came first and the start was refused.
      expect([Code.OK, Code.FAILED_PRECONDITION]).toContain(codeOf(started));
      expect(await stateOf(id)).toBe(ContainerState.CONTAINER_EXITED);
      expect(await processesIn(id)).toEqual([]);
      await fixture.stopAndRemovePod(podId);
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'RemoveContainer during an ExecSync and a stream of status calls: every answer is the status, NOT_FOUND or the exec ended',
    async () => {
      const podId = await runPod(podRequest('remove-during-exec'));
      const id = await runningContainer(podId, 'busy');
      expect(await processesIn(id)).not.toEqual([]);
      const exec = unary(fixture.client, RuntimeServiceService.execSync, { containerId: id, cmd: ['sleep', '600'], timeout: 0n });
      // The exec is running in the container before the removal starts.
      await sleep(500);
      let removed = false;
      const statuses: Code[] = [];
      const polling = (async () => {
        while (!removed) {
          const [outcome] = await Promise.allSettled([unary(fixture.client, RuntimeServiceService.containerStatus, { containerId: id, verbose: true })]);
          statuses.push(codeOf(outcome));
        }
      })();
      await remove(id);
      removed = true;
      await polling;
      const [execOutcome] = await Promise.allSettled([exec]);
      if (execOutcome.status === 'fulfilled') expect(execOutcome.value.exitCode).not.toBe(0);
      else expect([Code.NOT_FOUND, Code.FAILED_PRECONDITION, Code.ABORTED, Code.UNAVAILABLE]).toContain(codeOf(execOutcome));
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.filter((code) => code !== Code.OK && code !== Code.NOT_FOUND)).toEqual([]);
      expect(await containersNamed(podId, 'busy')).toEqual([]);
      expect(await remove(id)).toEqual({});
      await fixture.stopAndRemovePod(podId);
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'a stop that waits out its grace period holds back no other container, even in its pod, and no status',
    async () => {
      const podId = await runPod(podRequest('slow-stop'));
      const stubborn = await runningContainer(podId, 'stubborn', ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done']);
      const other = await runningContainer(podId, 'other');
      let slowStopDone = false;
      const slowStop = stop(stubborn, 20).then(() => (slowStopDone = true));
      await sleep(300);
      await stop(other);
      expect(await stateOf(stubborn)).toBe(ContainerState.CONTAINER_RUNNING);
      const elsewhere = await runPod(podRequest('elsewhere'));
      expect(slowStopDone).toBe(false);
      await slowStop;
      expect(await stateOf(stubborn)).toBe(ContainerState.CONTAINER_EXITED);
      await fixture.stopAndRemovePod(elsewhere);
      await fixture.stopAndRemovePod(podId);
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'after all of it nothing is left on the host',
    async () => {
      expect(await unary(fixture.client, RuntimeServiceService.listPodSandbox, { filter: undefined })).toMatchObject({ items: [] });
      expect(await hostAudit({ dirs: fixture.dirs, network, logs: [fixture.daemon.log], ignorePids: [fixture.daemon.child.pid] })).toEqual([]);
    },
    CASE_TIMEOUT_MS,
  );
});
