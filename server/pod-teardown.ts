// Stopping and removing a pod, shared by StopPodSandbox and RemovePodSandbox. Every step is
// idempotent, because the kubelet repeats these calls and a daemon may die halfway.
import { releasePodNamespaces } from '../network/namespaces';
import type { PodNetworkRequest } from '../network/network-manager';
import { stopInfraProcess } from '../oci/infra-process';
import { removePodCgroup } from '../oci/pod-cgroup';
import { removePodFiles, unmountPodShm } from '../oci/pod-files';
import { join } from 'node:path';
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


export function networkRequest(pod: PodRecord): PodNetworkRequest {
  const metadata = loadedConfig(pod.config).metadata;
  return {
    podId: pod.id,
    name: metadata?.name ?? '',
    namespace: metadata?.namespace ?? '',
    uid: metadata?.uid ?? '',
    netns: pod.namespaces.network ?? '',
    portMappings: pod.portMappings,
  };
}

function podContainers(ctx: ServerContext, pod: PodRecord): ContainerRecord[] {
  return ctx.state.containers.list().filter((container) => container.podId === pod.id);
}

/** Everything that runs or is held stops; namespaces, files and the record stay for status. */
export async function stopPod(ctx: ServerContext, pod: PodRecord): Promise<void> {
  // CRI: containers still running when their pod stops are killed outright.
  for (const container of podContainers(ctx, pod)) await stopContainerRecord(ctx, container, 0);
  if (pod.infra) await stopInfraProcess(pod.infra);
  if (pod.network) await ctx.network.detach(networkRequest(pod), pod.network);
  await ctx.hostPorts.release(pod.id);
  await unmountPodShm(pod.files);
  await ctx.handlers.resolve(pod.runtimeHandler).stopPod(pod.id);
  if (pod.state !== 'notready') {
    await ctx.state.pods.save({ ...pod, state: 'notready' });
    ctx.logger.info('pod sandbox stopped', { pod_id: pod.id, pod_name: pod.name });
  }
}

/** Stops the pod if needed, then removes all of it and frees its name. */
export async function removePod(ctx: ServerContext, pod: PodRecord): Promise<void> {
  await stopPod(ctx, pod);
  for (const container of podContainers(ctx, pod)) await removeContainerRecord(ctx, container);
  await releasePodNamespaces(pod.namespaces);
  await removePodFiles(podFilesDir(ctx, pod.id));
  await removePodCgroup(pod.cgroup);
  await ctx.handlers.resolve(pod.runtimeHandler).removePod(pod.id);
  await ctx.state.pods.remove(pod.id);
  forgetCpuReading(pod.id);
  ctx.logger.info('pod sandbox removed', { pod_id: pod.id, pod_name: pod.name });
}
