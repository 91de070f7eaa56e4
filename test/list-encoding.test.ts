// List answers built from per-item bytes must be exactly what the generated encoder writes,
// whatever the items hold, and stay so when items are reused across answers.
import { Container, ContainerState, ListContainersResponse, ListPodSandboxResponse, PodSandbox, PodSandboxState } from '../proto/gen/cri-api-v1';
import { encodeListContainersResponse, encodeListPodSandboxResponse } from '../server/list-encoding';

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

describe('list encoding', () => {
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
});
