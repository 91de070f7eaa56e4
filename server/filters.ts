// The CRI list filters: an ID prefix, a pod ID prefix for containers, and a label selector
// every label of which must match. Lists and stats of pods and containers share them.
import type { ContainerRecord } from '../state/container-record';
import type { PodRecord } from '../state/pod-record';
import { criContainer } from './container-view';
import type { ServerContext } from './context';
import { criPodSandbox } from './pod-view';

export interface PodMatch {
  id?: string;
  labelSelector?: Record<string, string>;
}

export interface ContainerMatch extends PodMatch {
  podSandboxId?: string;
}

/** Whether every selector label is among `labels` with the same value; labels read only when needed. */
function selects(selector: Record<string, string> | undefined, labels: () => Record<string, string>): boolean {
  const wanted = Object.entries(selector ?? {});
  if (wanted.length === 0) return true;
  const held = labels();
  return wanted.every(([key, value]) => held[key] === value);
}

export function matchingPods(ctx: ServerContext, filter: PodMatch | undefined): PodRecord[] {
  return ctx.state.pods
    .list()
    .filter((pod) => !filter?.id || pod.id.startsWith(filter.id))
    .filter((pod) => selects(filter?.labelSelector, () => criPodSandbox(pod).labels));
}

export function matchingContainers(ctx: ServerContext, filter: ContainerMatch | undefined): ContainerRecord[] {
  return ctx.state.containers
    .list()
    .filter((container) => !filter?.id || container.id.startsWith(filter.id))
    .filter((container) => !filter?.podSandboxId || container.podId.startsWith(filter.podSandboxId))
    .filter((container) => selects(filter?.labelSelector, () => criContainer(container).labels));
}
