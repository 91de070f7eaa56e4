// The kubelet's cAdvisor-free figures through the CRI socket: pod network counters in the pod
// stats, usage_nano_cores over the daemon's own sampling window, and ListMetricDescriptors with
// ListPodSandboxMetrics (and its streamed form), for a runc pod and a VM pod.
import { type Metric, type PodSandboxMetrics, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { waitUntil } from '../system/wait-until';
import { streamed, unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { receiveFrom } from './support/net-tools';

const BOOT_MS = 180_000;
const WAIT_MS = 30_000;
const POLL_MS = 200;
const SAMPLE_SECONDS = 3;
const SERVED_BYTES = 64 * 1024;

// The handlers as by default; the daemon samples CPU time every few seconds.
const CONFIG = `
[metrics]
stats_sample_interval_seconds = ${SAMPLE_SECONDS}
`;

const BUSY = ['sh', '-c', 'while true; do :; done'];

describe('pod metrics through the CRI', () => {
  let daemon: ContainerDaemon;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.60.0/24', { config: CONFIG, gateway: true });
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  afterEach(() => daemon.removePods(), BOOT_MS);

  const podNetwork = async (podSandboxId: string) => (await unary(daemon.client, Runtime.podSandboxStats, { podSandboxId })).stats?.linux?.network;
  const runningContainer = async (podSandboxId: string, name: string, command: string[]): Promise<string> => {
    const id = await daemon.createContainer(podSandboxId, name, command);
    await unary(daemon.client, Runtime.startContainer, { containerId: id });
    return id;
  };
  const podMetrics = async (podSandboxId: string): Promise<PodSandboxMetrics | undefined> =>
    (await unary(daemon.client, Runtime.listPodSandboxMetrics, {})).podMetrics.find((pod) => pod.podSandboxId === podSandboxId);
  const named = (metrics: Metric[] | undefined, name: string): Metric[] => (metrics ?? []).filter((metric) => metric.name === name);

  test.each(['runc', 'vm'])('a %s pod\'s stats count the traffic on its interfaces, eth0 the default', async (handler) => {
    const podId = await daemon.runPod(`net-${handler}`, handler);
    await runningContainer(podId, 'server', ['sh', '-c', `while true; do head -c ${SERVED_BYTES} /dev/zero | busybox nc -l -p 8080; done`]);
    const before = await podNetwork(podId);
    expect(before?.defaultInterface?.name).toBe('eth0');
    // What the host fetches from the pod leaves by eth0; the host's acknowledgements arrive on it.
    const address = await daemon.podIp(podId);
    expect(await waitUntil(async () => (await receiveFrom(address, 8080)).length === SERVED_BYTES, WAIT_MS, POLL_MS)).toBe(true);
    const after = await podNetwork(podId);
    expect(after?.timestamp).toBeGreaterThan(0n);
    expect(after?.defaultInterface?.txBytes?.value).toBeGreaterThanOrEqual((before?.defaultInterface?.txBytes?.value ?? 0n) + BigInt(SERVED_BYTES));
    expect(after?.defaultInterface?.rxBytes?.value).toBeGreaterThan(before?.defaultInterface?.rxBytes?.value ?? 0n);
    expect(after?.defaultInterface?.rxErrors?.value).toBe(0n);
    // Loopback carries no pod traffic; a VM pod's TAP, which carries it to the guest, is listed besides.
    const others = after?.interfaces.map((counters) => counters.name) ?? [];
    expect(others).not.toContain('lo');
    if (handler === 'vm') expect(others.length).toBeGreaterThan(0);
    // The same counters as the kubelet's cAdvisor metrics.
    const received = named((await podMetrics(podId))?.metrics, 'container_network_receive_bytes_total').find((metric) => metric.labelValues.includes('eth0'));
    expect(received?.value?.value).toBeGreaterThanOrEqual(after?.defaultInterface?.rxBytes?.value ?? 1n);
    await daemon.stopAndRemovePod(podId);
  }, BOOT_MS);

  test('usage_nano_cores is the rate over the daemon\'s sampling window: clients asking one after another see the same figure', async () => {
    const podId = await daemon.runPod('busy', 'runc');
    const id = await runningContainer(podId, 'busy', BUSY);
    const nanoCores = async (): Promise<bigint | undefined> => (await unary(daemon.client, Runtime.containerStats, { containerId: id })).stats?.cpu?.usageNanoCores?.value;
    // The rate comes with the sampler's second reading of the running container.
    expect(await waitUntil(async () => (await nanoCores()) !== undefined, WAIT_MS, POLL_MS)).toBe(true);
    // Four answers in quick succession span at most one new reading (they take far less than a
    // window), so two in a row come from the same window and agree; rates measured between the
    // calls themselves would all differ.
    const answers = [await nanoCores(), await nanoCores(), await nanoCores(), await nanoCores()];
    expect(answers.some((answer, i) => i > 0 && answer === answers[i - 1])).toBe(true);
    // A busy loop uses a good part of a core.
    expect(answers[3]).toBeGreaterThan(100_000_000n);
    const pod = await unary(daemon.client, Runtime.podSandboxStats, { podSandboxId: podId });
    expect(pod.stats?.linux?.cpu?.usageNanoCores?.value).toBeGreaterThan(100_000_000n);
    await daemon.stopAndRemovePod(podId);
  }, BOOT_MS);

  test.each(['runc', 'vm'])('ListPodSandboxMetrics gives a %s pod\'s containers the cAdvisor metrics ListMetricDescriptors describes; the stream gives the same pods once each', async (handler) => {
    const podId = await daemon.runPod(`metrics-${handler}`, handler);
    const id = await runningContainer(podId, 'busy', BUSY);
    const { descriptors } = await unary(daemon.client, Runtime.listMetricDescriptors, {});
    const described = new Map(descriptors.map((descriptor) => [descriptor.name, descriptor.labelKeys]));
    for (const name of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_network_receive_bytes_total', 'container_fs_usage_bytes', 'container_processes']) {
      expect(described.get(name)?.slice(0, 3)).toEqual(['id', 'name', 'image']);
    }
    // Until the busy loop has used a whole second of CPU time, the counter reads 0.
    expect(
      await waitUntil(
        async () => (named((await podMetrics(podId))?.containerMetrics.find((container) => container.containerId === id)?.metrics, 'container_cpu_usage_seconds_total')[0]?.value?.value ?? 0n) > 0n,
        WAIT_MS,
        POLL_MS,
      ),
    ).toBe(true);
    const pod = await podMetrics(podId);
    const container = pod?.containerMetrics.find((metrics) => metrics.containerId === id);
    // Every metric is described, with a value for each of its label keys.
    for (const metric of [...(pod?.metrics ?? []), ...(container?.metrics ?? [])]) expect(metric.labelValues.length).toBe(described.get(metric.name)?.length);
    const cpu = named(container?.metrics, 'container_cpu_usage_seconds_total')[0];
    expect(cpu.labelValues).toEqual([id, 'busy', daemon.image]);
    expect(named(container?.metrics, 'container_memory_working_set_bytes')[0]?.value?.value).toBeGreaterThan(0n);
    expect(named(container?.metrics, 'container_processes')[0]?.value?.value).toBeGreaterThanOrEqual(1n);
    expect(named(container?.metrics, 'container_fs_usage_bytes')).toHaveLength(1);
    expect(named(pod?.metrics, 'container_network_transmit_bytes_total').map((metric) => metric.labelValues[3])).toContain('eth0');

    const fromStream = (await streamed(daemon.client, Runtime.streamPodSandboxMetrics, {})).flatMap((message) => message.podSandboxMetrics);
    const listed = (await unary(daemon.client, Runtime.listPodSandboxMetrics, {})).podMetrics;
    expect(fromStream.map((metrics) => metrics.podSandboxId).sort()).toEqual(listed.map((metrics) => metrics.podSandboxId).sort());
    expect(fromStream.find((metrics) => metrics.podSandboxId === podId)?.containerMetrics.map((metrics) => metrics.containerId)).toEqual([id]);
    await daemon.stopAndRemovePod(podId);
  }, BOOT_MS);
});
