// Stopping and removing a pod, shared by StopPodSandbox, RemovePodSandbox and the start-up
// sweep of creations a crash cut short. Every step is idempotent, because the kubelet repeats
// these calls and a daemon may die halfway.
import { isPinned, releasePodNamespaces } from '../network/namespaces';
import type { PodNetworkRequest, PortMapping } from '../network/network-manager';
import { ContainerEventType, type PodSandboxMetadata } from '../proto/gen/cri-api-v1';
import { removePodCgroup } from '../oci/cgroups/pod-cgroup';
import { settle } from '../system/settle';
import type { PodRecord } from '../state/pod-record';
import { removeContainerRecord, stopContainerRecord } from './container-lifecycle';
import { forgetCpuReading } from './cpu-rates';
import type { ServerContext } from './context';
import { loadedConfig } from './pod-config';
import { handlerOfPod } from './pod-sandbox';
import { podContainers } from './pod-status-snapshot';

/** What CNI is told about a pod: the same at ADD (before the record exists) and at DEL. */
export function podNetworkRequest(podId: string, metadata: PodSandboxMetadata | undefined, netns: string, portMappings: PortMapping[]): PodNetworkRequest {
  return { podId, name: metadata?.name ?? '', namespace: metadata?.namespace ?? '', uid: metadata?.uid ?? '', netns, portMappings };
}

export function networkRequest(pod: PodRecord): PodNetworkRequest {
  return podNetworkRequest(pod.id, loadedConfig(pod.config).metadata, pod.namespaces.network ?? '', pod.portMappings);
}

/**
 * CNI DEL for the pod. Without its namespace (a creation cut short before it was pinned) the
 * plugins are given none, so they release what they hold on the host (IP lease, rules) and
 * skip the pod side, as the CNI spec lets them.
 */
async function detachNetwork(ctx: ServerContext, pod: PodRecord): Promise<void> {
  if (!pod.network) return;
  const request = networkRequest(pod);
  await ctx.network.detach((await isPinned(request.netns)) ? request : { ...request, netns: '' }, pod.network);
}

/**
 * Stops what runs and what is held for the pod: its sandbox, its network and host ports. Its
 * containers are stopped already and its namespaces stay pinned, so the network and host ports
 * go side by side with the sandbox, unless the sandbox works on the pod's network (a VM takes
 * its TAP off eth0, which CNI DEL deletes): then it stops first.
 */
async function stopSandbox(ctx: ServerContext, pod: PodRecord): Promise<void> {
  const handler = handlerOfPod(ctx, pod);
  const sandboxStopped = handler.stopPod(pod.id);
  if (handler.usesPodNetwork) await sandboxStopped;
  await settle([sandboxStopped, detachNetwork(ctx, pod), ctx.hostPorts.release(pod.id)]);
}

/** Removes what the stopped pod is made of: the handler's part first, as its processes hold the rest. */
async function removeSandbox(ctx: ServerContext, pod: PodRecord): Promise<void> {
  await handlerOfPod(ctx, pod).removePod(pod.id);
  await settle([releasePodNamespaces(pod.namespaces), removePodCgroup(pod.cgroup)]);
}

/** Everything that runs or is held stops; namespaces, files and the record stay for status. */
export async function stopPod(ctx: ServerContext, pod: PodRecord): Promise<void> {
  // CRI: containers still running when their pod stops are killed outright, each on its own.
  await settle(podContainers(ctx, pod.id).map((container) => stopContainerRecord(ctx, container, 0)));
  // The state is saved last, so a pod recorded as stopped went through every step below already.
  if (pod.state === 'notready') return;
  await stopSandbox(ctx, pod);
  const stopped: PodRecord = { ...pod, state: 'notready' };
  await ctx.state.pods.save(stopped);
  // A sandbox that died on its own was told already, and stopped it reads the same.
  if (pod.diedAt === undefined) ctx.events.publishSandbox(ctx, stopped, ContainerEventType.CONTAINER_STOPPED_EVENT);
  ctx.logger.info('pod sandbox stopped', { pod_id: pod.id, pod_name: pod.name });
}

/** Stops the pod if needed, then removes all of it and frees its name. */
export async function removePod(ctx: ServerContext, pod: PodRecord): Promise<void> {
  await stopPod(ctx, pod);
  await settle(podContainers(ctx, pod.id).map((container) => removeContainerRecord(ctx, container)));
  // Its removed containers' conmons and mounts are in its cgroup and namespaces.
  await ctx.removals.finish(ctx, pod.id);
  await removeSandbox(ctx, pod);
  // Stopped above, so its record now reads NOTREADY: the last status, which the deletion event carries.
  const last = ctx.state.pods.find(pod.id) ?? pod;
  await ctx.state.pods.remove(pod.id);
  forgetCpuReading(pod.id);
  // The kubelet drops the pod from its cache when the deletion event names the sandbox's own ID.
  ctx.events.publishSandbox(ctx, last, ContainerEventType.CONTAINER_DELETED_EVENT);
  ctx.logger.info('pod sandbox removed', { pod_id: pod.id, pod_name: pod.name });
}

/** Undoes a pod creation a crash cut short, from what its record said it was about to make. */
export async function discardUnfinishedPod(ctx: ServerContext, pod: PodRecord): Promise<void> {
  await stopSandbox(ctx, pod);
  await removeSandbox(ctx, pod);
}
