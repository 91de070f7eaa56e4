import { ContainerState, type Container, type ContainerStatus } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import { cachedPerObject } from '../system/per-object-cache';
import type { ImageManager } from '../storage/image-manager';
import type { ImageRecord } from '../storage/image-record';
import { loadedContainerConfig } from './container-config';
import { containerImageNames } from './container-image';

export type ExitReason = 'Completed' | 'Error' | 'OOMKilled';

const STATES: Record<ContainerRecord['state'], ContainerState> = {
  created: ContainerState.CONTAINER_CREATED,
  running: ContainerState.CONTAINER_RUNNING,
  exited: ContainerState.CONTAINER_EXITED,
};

// A record's views are made once, as records are replaced whenever a container changes.

/** A container as ListContainers shows it. */
export const criContainer = cachedPerObject((container: ContainerRecord): Container => {
  const config = loadedContainerConfig(container.config);
  return {
    id: container.id,
    podSandboxId: container.podId,
    metadata: config.metadata,
    image: { image: container.image, annotations: {}, userSpecifiedImage: container.image, runtimeHandler: '', imageRef: container.imageId },
    imageRef: container.imageId,
    imageId: container.imageId,
    state: STATES[container.state],
    createdAt: BigInt(container.createdAt),
    labels: config.labels,
    annotations: config.annotations,
  };
});

function statusView(container: ContainerRecord, image: ImageRecord | undefined): ContainerStatus {
  const config = loadedContainerConfig(container.config);
  const view = criContainer(container);
  const names = containerImageNames(container, image);
  return {
    id: view.id,
    metadata: view.metadata,
    state: view.state,
    createdAt: view.createdAt,
    startedAt: BigInt(container.startedAt),
    finishedAt: BigInt(container.finishedAt),
    exitCode: container.exitCode,
    image: names.spec,
    imageRef: names.imageRef,
    imageId: view.imageId,
    reason: container.reason,
    message: '',
    labels: view.labels,
    annotations: view.annotations,
    mounts: config.mounts,
    logPath: container.logPath,
    resources: config.linux?.resources ? { linux: config.linux.resources, windows: undefined } : undefined,
    user: { linux: { uid: BigInt(container.user.uid), gid: BigInt(container.user.gid), supplementalGroups: container.user.additionalGids.map(BigInt) } },
    stopSignal: 0,
  };
}

// The status names the image by its tags and digests now, so it is made once per container
// record and image record (or once without one, when the image was removed).
const statusViews = cachedPerObject((container: ContainerRecord) => {
  let imageGone: ContainerStatus | undefined;
  const withImage = cachedPerObject((image: ImageRecord) => statusView(container, image));
  return (image: ImageRecord | undefined): ContainerStatus => (image ? withImage(image) : (imageGone ??= statusView(container, undefined)));
});

/** A container as ContainerStatus shows it, with the fields the kubelet reads. */
export function criContainerStatus(images: ImageManager, container: ContainerRecord): ContainerStatus {
  return statusViews(container)(images.find(container.imageId));
}
