import { ContainerState, type Container, type ContainerStatus } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import { cachedPerObject } from '../system/per-object-cache';
import { loadedContainerConfig } from './container-config';

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

/** A container as ContainerStatus shows it, with the fields the kubelet reads. */
export const criContainerStatus = cachedPerObject((container: ContainerRecord): ContainerStatus => {
  const config = loadedContainerConfig(container.config);
  const view = criContainer(container);
  return {
    id: view.id,
    metadata: view.metadata,
    state: view.state,
    createdAt: view.createdAt,
    startedAt: BigInt(container.startedAt),
    finishedAt: BigInt(container.finishedAt),
    exitCode: container.exitCode,
    image: view.image,
    imageRef: view.imageRef,
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
});
