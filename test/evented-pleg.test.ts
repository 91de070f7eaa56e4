// The kubelet's evented PLEG through the CRI socket: it caches each pod from the latest
// GetContainerEvents event alone (the sandbox and all its containers), keeps a relist's status
// (PodSandboxStatus with its timestamp) only when newer, and drops the pod when its sandbox's
// deletion event arrives. Both must describe the same pod at every quiet point.
import { status as Code, type ClientReadableStream } from '@grpc/grpc-js';
import { ContainerEventType, ContainerState, NamespaceMode, PodSandboxState, RuntimeServiceService, type ContainerEventResponse, type ContainerStatus, type GetEventsRequest, type PodSandboxStatus } from '../proto/gen/cri-api-v1';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';

const SUBNET = '10.219.55.0/24';
const CASE_MS = 300_000;
/** How long events may take to follow the call that caused them. */
const DELIVERY_MS = 15_000;

/** A pod as the kubelet's cache holds it; undefined once it is gone. */
interface CachedPod {
  sandbox: PodSandboxStatus;
  containers: ContainerStatus[];
}

const byId = (statuses: ContainerStatus[]): ContainerStatus[] => [...statuses].sort((a, b) => a.id.localeCompare(b.id));

describe('evented PLEG', () => {
  let daemon: ContainerDaemon;
  let stream: ClientReadableStream<ContainerEventResponse>;
  const events: ContainerEventResponse[] = [];

  beforeAll(async () => {
    daemon = await ContainerDaemon.start(SUBNET);
    const method = RuntimeServiceService.getContainerEvents;
    stream = daemon.client.makeServerStreamRequest(
      method.path,
      (value: GetEventsRequest) => method.requestSerialize(value),
      (value: Buffer) => method.responseDeserialize(value),
      {},
    );
    stream.on('data', (event: ContainerEventResponse) => events.push(event));
    stream.on('error', () => undefined);
  }, CASE_MS);

  afterAll(async () => {
    stream?.cancel();
    await daemon?.close();
  }, CLOSE_MS);

  const eventsOf = (podId: string): ContainerEventResponse[] => events.filter((event) => event.podSandboxStatus?.id === podId);

  /** The pod rebuilt as the kubelet does from its latest event: a sandbox deletion drops it. */
  function fromEvents(podId: string): CachedPod | undefined {
    const latest = eventsOf(podId).at(-1);
    if (!latest?.podSandboxStatus) throw new Error(`no event for pod ${podId}`);
    if (latest.containerEventType === ContainerEventType.CONTAINER_DELETED_EVENT && latest.containerId === podId) return undefined;
    return { sandbox: latest.podSandboxStatus, containers: byId(latest.containersStatuses) };
  }

  /** The pod as a relist without events sees it: PodSandboxStatus, ListContainers, ContainerStatus. */
  async function relisted(podId: string): Promise<CachedPod | undefined> {
    const pod = await unary(daemon.client, RuntimeServiceService.podSandboxStatus, { podSandboxId: podId, verbose: false }).catch((error: { code?: number }) => {
      if (error.code === Code.NOT_FOUND) return undefined;
      throw error;
    });
    if (!pod?.status) return undefined;
    const { containers } = await unary(daemon.client, RuntimeServiceService.listContainers, { filter: { id: '', state: undefined, podSandboxId: podId, labelSelector: {} } });
    const statuses = await Promise.all(
      containers.map(async (container) => (await unary(daemon.client, RuntimeServiceService.containerStatus, { containerId: container.id, verbose: false })).status),
    );
    return { sandbox: pod.status, containers: byId(statuses.filter((status): status is ContainerStatus => status !== undefined)) };
  }

  /** What the kubelet's relist takes when PodSandboxStatus sets its timestamp: the containers it lists. */
  async function sandboxStatusContainers(podId: string): Promise<ContainerStatus[]> {
    const pod = await unary(daemon.client, RuntimeServiceService.podSandboxStatus, { podSandboxId: podId, verbose: false });
    expect(pod.timestamp).toBeGreaterThan(0n);
    return byId(pod.containersStatuses);
  }

  /** At a quiet point, once the events have caught up: the events alone give what a relist gives. */
  async function expectEventsMatchRelist(podId: string): Promise<void> {
    await waitUntil(async () => JSON.stringify(fromEvents(podId), bigints) === JSON.stringify(await relisted(podId), bigints), DELIVERY_MS, 100);
    const relist = await relisted(podId);
    expect(fromEvents(podId)).toEqual(relist);
    if (relist) expect(await sandboxStatusContainers(podId)).toEqual(relist.containers);
  }

  /** A pod through the kubelet's whole lifecycle of it, compared at each step. */
  async function lifecycle(name: string, handler: string): Promise<void> {
    const podId = await daemon.runPod(name, handler);
    await expectEventsMatchRelist(podId);
    expect(eventsOf(podId).filter((event) => event.containerId === podId).map((event) => event.containerEventType)).toEqual([
      ContainerEventType.CONTAINER_CREATED_EVENT,
      ContainerEventType.CONTAINER_STARTED_EVENT,
    ]);

    const sleeper = await daemon.createContainer(podId, 'sleeper', ['sleep', '600']);
    const quitter = await daemon.createContainer(podId, 'quitter', ['sh', '-c', 'exit 3']);
    await expectEventsMatchRelist(podId);

    await unary(daemon.client, RuntimeServiceService.startContainer, { containerId: sleeper });
    await unary(daemon.client, RuntimeServiceService.startContainer, { containerId: quitter });
    await daemon.waitForState(quitter, ContainerState.CONTAINER_EXITED);
    await expectEventsMatchRelist(podId);
    // An event about one container carries every container of its pod, as it is then.
    const sleeperStarted = eventsOf(podId).find((event) => event.containerId === sleeper && event.containerEventType === ContainerEventType.CONTAINER_STARTED_EVENT);
    expect(sleeperStarted?.containersStatuses.map((status) => [status.id, status.state]).sort()).toEqual(
      [
        [sleeper, ContainerState.CONTAINER_RUNNING],
        [quitter, ContainerState.CONTAINER_CREATED],
      ].sort(),
    );
    expect(fromEvents(podId)?.containers.find((status) => status.id === quitter)).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 3 });

    await unary(daemon.client, RuntimeServiceService.stopContainer, { containerId: sleeper, timeout: 0n });
    await expectEventsMatchRelist(podId);

    await unary(daemon.client, RuntimeServiceService.removeContainer, { containerId: quitter });
    await expectEventsMatchRelist(podId);
    const quitterDeleted = eventsOf(podId).find((event) => event.containerId === quitter && event.containerEventType === ContainerEventType.CONTAINER_DELETED_EVENT);
    expect(quitterDeleted?.containersStatuses.map((status) => status.id)).toEqual([sleeper]);

    await unary(daemon.client, RuntimeServiceService.stopPodSandbox, { podSandboxId: podId });
    await expectEventsMatchRelist(podId);
    expect(fromEvents(podId)?.sandbox.state).toBe(PodSandboxState.SANDBOX_NOTREADY);
    expect(eventsOf(podId).at(-1)).toMatchObject({ containerId: podId, containerEventType: ContainerEventType.CONTAINER_STOPPED_EVENT });

    await unary(daemon.client, RuntimeServiceService.removePodSandbox, { podSandboxId: podId });
    await expectEventsMatchRelist(podId);
    expect(await relisted(podId)).toBeUndefined();
    // Each event is newer than the one before it, as the kubelet orders them by created_at.
    const times = eventsOf(podId).map((event) => event.createdAt);
    expect(times).toEqual([...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(times).size).toBe(times.length);
  }

  test('runc: a pod rebuilt from its events alone equals a relist at every step', () => lifecycle('ev-runc', 'runc'), CASE_MS);

  test('vm: a pod rebuilt from its events alone equals a relist at every step', () => lifecycle('ev-vm', 'vm'), CASE_MS);

  /** What the pod's handler runs it in, as its verbose status shows it. */
  async function handlerState(podId: string): Promise<HandlerState> {
    const pod = await unary(daemon.client, RuntimeServiceService.podSandboxStatus, { podSandboxId: podId, verbose: true });
    return (JSON.parse(pod.info.info ?? '{}') as { handlerState: HandlerState }).handlerState;
  }

  const sandboxStops = (podId: string): ContainerEventResponse[] =>
    eventsOf(podId).filter((event) => event.containerId === podId && event.containerEventType === ContainerEventType.CONTAINER_STOPPED_EVENT);

  /**
   * The process the pod's sandbox is, killed as a crash would: the kubelet learns from one event
   * that the pod is NOTREADY, as a relist would tell it, and its stop then sends no other.
   */
  async function sandboxDeath(name: string, handler: string, sandboxPid: (state: HandlerState) => number | undefined): Promise<void> {
    // A pod-wide PID namespace: a runc pod has an infra process only then.
    const podId = await daemon.runPod(name, handler, { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } } });
    const sleeper = await daemon.createContainer(podId, 'sleeper', ['sleep', '600']);
    await unary(daemon.client, RuntimeServiceService.startContainer, { containerId: sleeper });
    await expectEventsMatchRelist(podId);
    const pid = sandboxPid(await handlerState(podId));
    if (pid === undefined) throw new Error(`pod ${podId} shows no sandbox process`);

    process.kill(pid, 'SIGKILL');
    expect(await waitUntil(async () => sandboxStops(podId).length > 0, DELIVERY_MS, 100)).toBe(true);
    expect(sandboxStops(podId)[0].podSandboxStatus?.state).toBe(PodSandboxState.SANDBOX_NOTREADY);
    await expectEventsMatchRelist(podId);
    const relist = await unary(daemon.client, RuntimeServiceService.podSandboxStatus, { podSandboxId: podId, verbose: false });
    expect(relist.status?.state).toBe(PodSandboxState.SANDBOX_NOTREADY);

    await unary(daemon.client, RuntimeServiceService.stopPodSandbox, { podSandboxId: podId });
    await unary(daemon.client, RuntimeServiceService.removePodSandbox, { podSandboxId: podId });
    await expectEventsMatchRelist(podId);
    expect(sandboxStops(podId)).toHaveLength(1);
  }

  test('runc: a pod whose infra process is killed is NOTREADY in its event as in a relist', () => sandboxDeath('ev-runc-dies', 'runc', (state) => state.infra?.pid), CASE_MS);

  test('vm: a pod whose QEMU is killed is NOTREADY in its event as in a relist', () => sandboxDeath('ev-vm-dies', 'vm', (state) => state.qemu?.pid), CASE_MS);
});

/** The part of a pod's handler state that names its sandbox's process: a runc pod's infra process, a VM pod's QEMU. */
interface HandlerState {
  infra?: { pid: number };
  qemu?: { pid: number };
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
