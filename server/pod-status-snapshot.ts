// A pod's whole status at one instant, as the kubelet's evented PLEG caches it: PodSandboxStatus
// gives it for a relist and every container event carries it, so either rebuilds the same pod.
import type { ContainerStatus, PodSandboxStatus } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import type { PodRecord } from '../state/pod-record';
import type { ServerContext } from './context';
import { criContainerStatus } from './container-view';
import { criPodSandboxStatus } from './pod-view';

export interface PodStatusSnapshot {
  status: PodSandboxStatus;
  containersStatuses: ContainerStatus[];
  /** Nanoseconds; the kubelet keeps the newest of a relist and an event, so no two are equal. */
  timestamp: bigint;
}

let lastTimestamp = 0n;

/** Wall-clock nanoseconds, strictly increasing: two statuses taken in one millisecond still order. */
export function statusTimestamp(): bigint {
  const now = BigInt(Date.now()) * 1_000_000n;
  lastTimestamp = now > lastTimestamp ? now : lastTimestamp + 1n;
  return lastTimestamp;
}

export function podContainers(ctx: ServerContext, podId: string): ContainerRecord[] {
  return ctx.state.containers.list().filter((container) => container.podId === podId);
}

/** The pod as `pod` shows it and every container it has now, read at once (no await between). */
export function podStatusSnapshot(ctx: ServerContext, pod: PodRecord): PodStatusSnapshot {
  return {
    status: criPodSandboxStatus(pod),
    containersStatuses: podContainers(ctx, pod.id).map((container) => criContainerStatus(ctx.images, container)),
    timestamp: statusTimestamp(),
  };
}
