import { EventEmitter } from 'node:events';
import { ContainerEventType, type ContainerEventResponse } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import type { ServerContext } from './context';
import { criContainerStatus } from './container-view';
import { criPodSandboxStatus } from './pod-view';

const EVENT = 'container';

/** Container lifecycle events for GetContainerEvents streams (the kubelet's evented PLEG). */
export class ContainerEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per open stream; a node with many watchers is not a leak.
    this.emitter.setMaxListeners(0);
  }

  publish(ctx: ServerContext, container: ContainerRecord, type: ContainerEventType): void {
    const pod = ctx.state.pods.find(container.podId);
    const event: ContainerEventResponse = {
      containerId: container.id,
      containerEventType: type,
      createdAt: BigInt(Date.now()) * 1_000_000n,
      podSandboxStatus: pod ? criPodSandboxStatus(pod) : undefined,
      containersStatuses: [criContainerStatus(ctx.images, container)],
    };
    this.emitter.emit(EVENT, event);
  }

  subscribe(listener: (event: ContainerEventResponse) => void): () => void {
    this.emitter.on(EVENT, listener);
    return () => this.emitter.off(EVENT, listener);
  }
}
