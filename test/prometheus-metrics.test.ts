// The metrics a node operator scrapes from /metrics, as a real daemon counts them: image pulls,
// container and pod operations and their errors, OOM kills, CNI calls, and VM boots by source.
import { ImageServiceService as Images, ImageSpec, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { freePort } from './support/net-tools';

const BOOT_MS = 180_000;
const WAIT_MS = 60_000;
const POLL_MS = 200;

/** The value of one sample line (`name{labels} value`) of the text; 0 when it is not there. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics', () => {
  let daemon: ContainerDaemon;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    const config = `
[metrics]
address = "127.0.0.1:${port}"
`;
    daemon = await ContainerDaemon.start('10.219.61.0/24', { config });
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  afterEach(() => daemon.removePods(), BOOT_MS);

  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  test('image pulls are counted with their bytes and duration, failed ones apart', async () => {
    // The fixture pulled the busybox image once, downloading its blobs.
    let text = await scrape();
    expect(sample(text, 'podvisor_image_pulls_total{outcome="success"}')).toBe(1);
    expect(sample(text, 'podvisor_image_pull_bytes_total')).toBeGreaterThan(100_000);
    expect(sample(text, 'podvisor_image_pull_duration_seconds_count')).toBe(1);
    await expect(unary(daemon.client, Images.pullImage, { image: ImageSpec.fromPartial({ image: `${daemon.registryHost}/test/absent:latest` }), auth: undefined, sandboxConfig: undefined })).rejects.toThrow();
    text = await scrape();
    expect(sample(text, 'podvisor_image_pulls_total{outcome="failure"}')).toBe(1);
    expect(sample(text, 'podvisor_image_pull_duration_seconds_count')).toBe(2);
  });

  test('pod and container operations, their errors, CNI ADD and DEL, and an OOM kill are counted', async () => {
    const before = await scrape();
    const podId = await daemon.runPod('ops', 'runc');
    // tail of an endless line holds all of it in memory, past the limit.
    const hog = await daemon.createContainer(podId, 'hog', ['tail', '/dev/zero'], { linux: { resources: { memoryLimitInBytes: 16n * 1024n * 1024n } } });
    await unary(daemon.client, Runtime.startContainer, { containerId: hog });
    expect(await waitUntil(async () => (await daemon.status(hog)).reason === 'OOMKilled', WAIT_MS, POLL_MS)).toBe(true);
    await expect(unary(daemon.client, Runtime.startContainer, { containerId: 'f'.repeat(64) })).rejects.toThrow();
    await daemon.stopAndRemovePod(podId);
    const after = await scrape();
    const grew = (series: string): number => sample(after, series) - sample(before, series);
    expect(grew('podvisor_pod_operations_total{operation="run"}')).toBe(1);
    expect(grew('podvisor_pod_operations_total{operation="remove"}')).toBe(1);
    expect(grew('podvisor_container_operations_total{operation="create"}')).toBe(1);
    expect(grew('podvisor_container_operations_total{operation="start"}')).toBe(2);
    expect(grew('podvisor_container_operation_errors_total{operation="start",code="NOT_FOUND"}')).toBe(1);
    expect(grew('podvisor_container_oom_kills_total{runtime_handler="runc"}')).toBe(1);
    expect(grew('podvisor_cni_operation_duration_seconds_count{operation="ADD"}')).toBe(1);
    expect(grew('podvisor_cni_operation_duration_seconds_count{operation="DEL"}')).toBeGreaterThanOrEqual(1);
  }, BOOT_MS);

  test('VM boots are counted by where the VM came from', async () => {
    const before = await scrape();
    const podId = await daemon.runPod('vm', 'vm');
    const after = await scrape();
    const boots = ['warm', 'template', 'cold'].map((source) => sample(after, `podvisor_vm_boots_total{source="${source}"}`) - sample(before, `podvisor_vm_boots_total{source="${source}"}`));
    expect(boots.reduce((sum, count) => sum + count, 0)).toBe(1);
    expect(after).toMatch(/^podvisor_vm_boot_duration_seconds_count\{source="(warm|template|cold)"\} 1$/m);
    await daemon.stopAndRemovePod(podId);
  }, BOOT_MS);
});
