// The list-streaming calls (StreamPodSandboxes, StreamContainers, StreamContainerStats,
// StreamPodSandboxStats, StreamImages) as the kubelet's CRIListStreaming uses them: the same
// items as the List* call with the same filter, each once, in as many answers as it takes,
// so a node whose list outgrows one gRPC message is still listed.
import { status as Code } from '@grpc/grpc-js';
import {
  ContainerState,
  ImageServiceService as Images,
  ImageSpec,
  PodSandboxState,
  RuntimeServiceService as Runtime,
  type ContainerFilter,
  type ContainerStatsFilter,
  type ImageFilter,
  type PodSandboxFilter,
  type PodSandboxStatsFilter,
} from '../proto/gen/cri-api-v1';
import { streamed, unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';

const byId = <T extends { id: string }>(items: T[]): T[] => [...items].sort((a, b) => a.id.localeCompare(b.id));
const idsOf = (items: { attributes?: { id: string } }[]): string[] => items.map((item) => item.attributes?.id ?? '').sort();

describe('list-streaming calls', () => {
  let daemon: ContainerDaemon;
  let podA: string;
  let podB: string;
  let podC: string;
  let running: string;
  let created: string;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.51.0/24');
    podA = await daemon.runPod('stream-a', 'runc', { labels: { group: 'a' } });
    podB = await daemon.runPod('stream-b', 'runc', { labels: { group: 'b' } });
    podC = await daemon.runPod('stream-c', 'runc', { labels: { group: 'b' } });
    await unary(daemon.client, Runtime.stopPodSandbox, { podSandboxId: podC });
    running = await daemon.createContainer(podA, 'running', ['sleep', '600'], { labels: { role: 'app' } });
    await unary(daemon.client, Runtime.startContainer, { containerId: running });
    created = await daemon.createContainer(podA, 'created', ['sleep', '600']);
    const other = await daemon.createContainer(podB, 'other', ['sleep', '600'], { labels: { role: 'app' } });
    await unary(daemon.client, Runtime.startContainer, { containerId: other });
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  test('StreamPodSandboxes answers with the pods ListPodSandbox lists, filter by filter', async () => {
    const filters: (PodSandboxFilter | undefined)[] = [
      undefined,
      { id: podA, state: undefined, labelSelector: {} },
      { id: '', state: undefined, labelSelector: { group: 'b' } },
      { id: '', state: { state: PodSandboxState.SANDBOX_NOTREADY }, labelSelector: {} },
      { id: '', state: undefined, labelSelector: { group: 'none' } },
    ];
    for (const filter of filters) {
      const listed = (await unary(daemon.client, Runtime.listPodSandbox, { filter })).items;
      const answers = await streamed(daemon.client, Runtime.streamPodSandboxes, { filter });
      expect(byId(answers.flatMap((answer) => answer.podSandboxes))).toEqual(byId(listed));
      // Every answer holds at least one pod: an empty list is no answer at all.
      expect(answers.every((answer) => answer.podSandboxes.length > 0)).toBe(true);
    }
    const notReady = await streamed(daemon.client, Runtime.streamPodSandboxes, { filter: filters[3] });
    expect(notReady.flatMap((answer) => answer.podSandboxes.map((pod) => pod.id))).toEqual([podC]);
  });

  test('StreamContainers answers with the containers ListContainers lists, filter by filter', async () => {
    const filters: (ContainerFilter | undefined)[] = [
      undefined,
      { id: running, state: undefined, podSandboxId: '', labelSelector: {} },
      { id: '', state: undefined, podSandboxId: podA, labelSelector: {} },
      { id: '', state: { state: ContainerState.CONTAINER_CREATED }, podSandboxId: '', labelSelector: {} },
      { id: '', state: undefined, podSandboxId: '', labelSelector: { role: 'app' } },
    ];
    for (const filter of filters) {
      const listed = (await unary(daemon.client, Runtime.listContainers, { filter })).containers;
      const answers = await streamed(daemon.client, Runtime.streamContainers, { filter });
      expect(byId(answers.flatMap((answer) => answer.containers))).toEqual(byId(listed));
    }
    const createdOnly = await streamed(daemon.client, Runtime.streamContainers, { filter: filters[3] });
    expect(createdOnly.flatMap((answer) => answer.containers.map((container) => container.id))).toEqual([created]);
  });

  test('StreamContainerStats and StreamPodSandboxStats answer for the containers and pods their List* calls do', async () => {
    const containerFilters: (ContainerStatsFilter | undefined)[] = [undefined, { id: '', podSandboxId: podA, labelSelector: {} }, { id: running, podSandboxId: '', labelSelector: {} }];
    for (const filter of containerFilters) {
      const listed = (await unary(daemon.client, Runtime.listContainerStats, { filter })).stats;
      const answers = await streamed(daemon.client, Runtime.streamContainerStats, { filter });
      expect(idsOf(answers.flatMap((answer) => answer.containerStats))).toEqual(idsOf(listed));
    }
    const podFilters: (PodSandboxStatsFilter | undefined)[] = [undefined, { id: podB, labelSelector: {} }, { id: '', labelSelector: { group: 'a' } }];
    for (const filter of podFilters) {
      const listed = (await unary(daemon.client, Runtime.listPodSandboxStats, { filter })).stats;
      const answers = await streamed(daemon.client, Runtime.streamPodSandboxStats, { filter });
      expect(idsOf(answers.flatMap((answer) => answer.podSandboxStats))).toEqual(idsOf(listed));
    }
    const onlyA = await streamed(daemon.client, Runtime.streamPodSandboxStats, { filter: podFilters[2] });
    expect(idsOf(onlyA.flatMap((answer) => answer.podSandboxStats))).toEqual([podA]);
  });

  test('StreamImages answers with the images ListImages lists, filter by filter', async () => {
    const filters: (ImageFilter | undefined)[] = [undefined, { image: ImageSpec.fromPartial({ image: daemon.image }) }, { image: ImageSpec.fromPartial({ image: 'example.com/none:1' }) }];
    const counts: number[] = [];
    for (const filter of filters) {
      const listed = (await unary(daemon.client, Images.listImages, { filter })).images;
      const answers = await streamed(daemon.client, Images.streamImages, { filter });
      expect(byId(answers.flatMap((answer) => answer.images))).toEqual(byId(listed));
      counts.push(listed.length);
    }
    expect(counts).toEqual([1, 1, 0]);
  });

  test("pods too many for one message (more than a gRPC client's 4 MiB) come through StreamPodSandboxes in several answers, each pod once", async () => {
    // 4 annotations of 110 KiB per pod (a value may hold 128 KiB): 10 pods are over 4 MiB.
    const annotations = Object.fromEntries([1, 2, 3, 4].map((n) => [`example.com/blob-${n}`, 'x'.repeat(110 * 1024)]));
    const big: string[] = [];
    // Removed here whatever happens: the fixture's own cleanup lists pods, which these outgrow.
    try {
      for (let n = 0; n < 10; n += 1) big.push(await daemon.runPod(`stream-big-${n}`, 'runc', { labels: { group: 'big' }, annotations }));
      const filter = { id: '', state: undefined, labelSelector: { group: 'big' } };
      const tooBig = await grpcFailure(unary(daemon.client, Runtime.listPodSandbox, { filter }));
      expect(tooBig.code).toBe(Code.RESOURCE_EXHAUSTED);
      const answers = await streamed(daemon.client, Runtime.streamPodSandboxes, { filter });
      expect(answers.length).toBeGreaterThan(1);
      const pods = answers.flatMap((answer) => answer.podSandboxes);
      expect(pods.map((pod) => pod.id).sort()).toEqual([...big].sort());
      expect(pods.every((pod) => pod.annotations['example.com/blob-4'] === annotations['example.com/blob-4'])).toBe(true);
    } finally {
      for (const podSandboxId of big) await daemon.stopAndRemovePod(podSandboxId);
    }
  }, 120_000);
});
