// Stopping and removing a pod, shared by StopPodSandbox and RemovePodSandbox. Every step is
// idempotent, because the kubelet repeats these calls and a daemon may die halfway.
import { releasePodNamespaces } from '../network/namespaces';
import type { PodNetworkRequest, PortMapping } from '../network/network-manager';
import type { PodSandboxMetadata } from '../proto/gen/cri-api-v1';
import { stopInfraProcess } from '../oci/conmon/infra-process';
import { removePodCgroup } from '../oci/cgroups/pod-cgroup';
import { removePodFiles, unmountPodShm } from '../oci/conmon/pod-files';
import { join } from 'node:path';
import { settle } from '../system/settle';
import type { ContainerRecord } from '../state/container-record';
import type { PodRecord } from '../state/pod-record';
import { removeContainerRecord, stopContainerRecord } from './container-lifecycle';
import { forgetCpuReading } from './container-stats-view';
import type { ServerContext } from './context';
import { loadedConfig } from './pod-config';

/** Where a pod's shm, resolv.conf, hosts and hostname live. */
export function podFilesDir(ctx: ServerContext, podId: string): string {
  return join(ctx.config.runroot, 'pods', podId);
}

/** What CNI is told about a pod: the same at ADD (before the record exists) and at DEL. */
export function podNetworkRequest(podId: string, metadata: PodSandboxMetadata | undefined, netns: string, portMappings: PortMapping[]): PodNetworkRequest {
  return { podId, name: metadata?.name ?? '', namespace: metadata?.namespace ?? '', uid: metadata?.uid ?? '', netns, portMappings };
}

export function networkRequest(pod: PodRecord): PodNetworkRequest {
  return podNetworkRequest(pod.id, loadedConfig(pod.config).metadata, pod.namespaces.network ?? '', pod.portMappings);
}

function podContainers(ctx: ServerContext, pod: PodRecord): ContainerRecord[] {
  return ctx.state.containers.list().filter((container) => container.podId === pod.id);
}

/** Everything that runs or is held stops; namespaces, files and the record stay for status. */
export async function stopPod(ctx: ServerContext, pod: PodRecord): Promise<void> {
  // CRI: containers still running when their pod stops are killed outright, each on its own.
  await settle(podContainers(ctx, pod).map((container) => stopContainerRecord(ctx, container, 0)));
  // The state is saved last, so a pod recorded as stopped went through every step below already.
  if (pod.state === 'notready') return;
  if (pod.infra) await stopInfraProcess(pod.infra);
  // The network and /dev/shm have nothing to do with each other.
  await settle([pod.network ? ctx.network.detach(networkRequest(pod), pod.network) : Promise.resolve(), unmountPodShm(pod.files)]);
  await ctx.hostPorts.release(pod.id);
  await ctx.handlers.resolve(pod.runtimeHandler).stopPod(pod.id);
  await ctx.state.pods.save({ ...pod, state: 'notready' });
  ctx.logger.info('pod sandbox stopped', { pod_id: pod.id, pod_name: pod.name });
}

/** Stops the pod if needed, then removes all of it and frees its name. */
export async function removePod(ctx: ServerContext, pod: PodRecord): Promise<void> {
  await stopPod(ctx, pod);
  await settle(podContainers(ctx, pod).map((container) => removeContainerRecord(ctx, container)));
  // With every process gone, the namespaces, the files and the cgroup are independent of each other.
  await settle([releasePodNamespaces(pod.namespaces), removePodFiles(podFilesDir(ctx, pod.id)), removePodCgroup(pod.cgroup)]);
  await ctx.handlers.resolve(pod.runtimeHandler).removePod(pod.id);
  await ctx.state.pods.remove(pod.id);
  forgetCpuReading(pod.id);
  ctx.logger.info('pod sandbox removed', { pod_id: pod.id, pod_name: pod.name });
}
