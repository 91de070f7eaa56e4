import { EventEmitter } from 'node:events';
import type { ContainerEventResponse, ContainerEventType } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import type { PodRecord } from '../state/pod-record';
import type { ServerContext } from './context';
import { podStatusSnapshot, statusTimestamp } from './pod-status-snapshot';

const EVENT = 'container';

/**
 * Container and sandbox lifecycle events for GetContainerEvents streams (the kubelet's evented
 * PLEG). Each carries the pod's whole status after the change, as containerd sends it: the
 * kubelet caches a pod from its latest event alone, and drops the pod at its sandbox's deletion.
 */
export class ContainerEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per open stream; a node with many watchers is not a leak.
    this.emitter.setMaxListeners(0);
  }

  /**
   * A container's event. Without its pod's record (a container a crash left behind) the event
   * has no pod status, and the kubelet skips it.
   */
  publish(ctx: ServerContext, container: Pick<ContainerRecord, 'id' | 'podId'>, type: ContainerEventType): void {
    this.send(container.id, ctx.state.pods.find(container.podId), ctx, type);
  }

  /** The sandbox's own event: its ID stands as a container's, as containerd sends it. */
  publishSandbox(ctx: ServerContext, pod: PodRecord, type: ContainerEventType): void {
    this.send(pod.id, pod, ctx, type);
  }

  private send(objectId: string, pod: PodRecord | undefined, ctx: ServerContext, type: ContainerEventType): void {
    const snapshot = pod ? podStatusSnapshot(ctx, pod) : undefined;
    const event: ContainerEventResponse = {
      containerId: objectId,
      containerEventType: type,
      createdAt: snapshot?.timestamp ?? statusTimestamp(),
      podSandboxStatus: snapshot?.status,
      containersStatuses: snapshot?.containersStatuses ?? [],
    };
    this.emitter.emit(EVENT, event);
  }

  subscribe(listener: (event: ContainerEventResponse) => void): () => void {
    this.emitter.on(EVENT, listener);
    return () => this.emitter.off(EVENT, listener);
  }
}
