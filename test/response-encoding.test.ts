// Answers built from per-view bytes must be exactly what the generated encoder writes (lists),
// or decode to the same answer (status with verbose info after the view), whatever the views
// hold, and stay so when views are reused across answers.
import {
  Container,
  ContainerState,
  ContainerStatus,
  ContainerStatusResponse,
  Image,
  ImageStatusResponse,
  ListContainersResponse,
  ListImagesResponse,
  ListPodSandboxResponse,
  PodSandbox,
  PodSandboxState,
} from '../proto/gen/cri-api-v1';
import {
  encodeContainerStatusResponse,
  encodeImageStatusResponse,
  encodeListContainersResponse,
  encodeListImagesResponse,
  encodeListPodSandboxResponse,
} from '../server/response-encoding';

function container(name: string): Container {
  return Container.fromPartial({
    id: `${name}-id`,
    podSandboxId: 'pod',
    metadata: { name, attempt: 2 },
    image: { image: 'busybox' },
    imageRef: 'sha256:abc',
    state: ContainerState.CONTAINER_RUNNING,
    createdAt: 1_763_884_800_123_456_789n,
    labels: { app: name, 'io.kubernetes.pod.name': 'p' },
    annotations: { note: 'x'.repeat(300) },
  });
}

function image(tag: string): Image {
  return Image.fromPartial({ id: `sha256:${tag}`, repoTags: [`example.com/${tag}:1`], repoDigests: [], size: 1_234_567n, username: 'nobody', pinned: tag === 'pause' });
}

describe('response encoding', () => {
  test('ListContainers bytes equal the generated encoding, for none, one and many items, reused or not', () => {
    const items = Array.from({ length: 40 }, (_, i) => container(`c${i}`));
    for (const containers of [[], items.slice(0, 1), items, items.slice(10, 20), items]) {
      const response: ListContainersResponse = { containers };
      const bytes = encodeListContainersResponse(response);
      expect(bytes).toEqual(Buffer.from(ListContainersResponse.encode(response).finish()));
      expect(ListContainersResponse.decode(bytes)).toEqual(response);
    }
  });

  test('ListPodSandbox bytes equal the generated encoding', () => {
    const items = ['a', 'b'].map((name) =>
      PodSandbox.fromPartial({ id: name, metadata: { name, namespace: 'ns', uid: `uid-${name}`, attempt: 0 }, state: PodSandboxState.SANDBOX_NOTREADY, createdAt: 5n, labels: { name } }),
    );
    const response: ListPodSandboxResponse = { items };
    expect(encodeListPodSandboxResponse(response)).toEqual(Buffer.from(ListPodSandboxResponse.encode(response).finish()));
  });

  test('ListImages bytes equal the generated encoding', () => {
    const response: ListImagesResponse = { images: ['pause', 'busybox', 'app'].map(image) };
    expect(encodeListImagesResponse(response)).toEqual(Buffer.from(ListImagesResponse.encode(response).finish()));
  });

  test('ContainerStatus answers decode to what was answered, plain or verbose, with the status view reused', () => {
    const status = ContainerStatus.fromPartial({
      id: 'c1',
      metadata: { name: 'c1', attempt: 1 },
      state: ContainerState.CONTAINER_EXITED,
      exitCode: 137,
      reason: 'OOMKilled',
      mounts: [{ containerPath: '/data', hostPath: '/srv/data', readonly: true }],
      labels: { app: 'c1' },
    });
    const plain: ContainerStatusResponse = { status, info: {} };
    const verbose: ContainerStatusResponse = { status, info: { info: '{"pid":42}' } };
    for (const response of [plain, verbose, plain, { status: undefined, info: {} }]) {
      expect(ContainerStatusResponse.decode(encodeContainerStatusResponse(response))).toEqual(response);
    }
    expect(encodeContainerStatusResponse(plain)).toEqual(Buffer.from(ContainerStatusResponse.encode(plain).finish()));
  });

  test('ImageStatus answers decode to what was answered, for a known and an unknown image', () => {
    const known: ImageStatusResponse = { image: image('busybox'), info: { info: '{"layers":[]}' } };
    const unknown: ImageStatusResponse = { image: undefined, info: {} };
    for (const response of [known, unknown, known]) expect(ImageStatusResponse.decode(encodeImageStatusResponse(response))).toEqual(response);
  });
});
