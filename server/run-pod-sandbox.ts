import { hostname } from 'node:os';
import { pinPodNamespaces, plannedPodNamespaces, releasePodNamespaces } from '../network/namespaces';
import type { PodNetworkAttachment, PodNetworkRequest } from '../network/network-manager';
import { podSysctls } from '../network/pod-sysctls';
import { validateSysctls } from '../network/sysctls';
import { createPodCgroup, plannedPodCgroup, removePodCgroup } from '../oci/cgroups/pod-cgroup';
import { ContainerEventType, NamespaceMode, RunPodSandboxRequest, type PodSandboxConfig, type RunPodSandboxResponse } from '../proto/gen/cri-api-v1';
import { newId } from '../system/ids';
import type { PodRecord } from '../state/pod-record';
import { CleanupStack } from '../system/cleanup-stack';
import { FailedPreconditionError } from '../system/errors';
import { settle } from '../system/settle';
import { nowNanos } from './container-config';
import type { ServerContext } from './context';
import type { CallerState } from './kept-creates';
import { namespaceOptions, podName, portMappings, storedConfig, validPodConfig } from './pod-config';
import { podSandboxOf } from './pod-sandbox';
import { podNetworkRequest } from './pod-teardown';

/** Holds the pod's host ports, then runs CNI ADD in its network namespace. */
async function connectPod(ctx: ServerContext, cleanup: CleanupStack, request: PodNetworkRequest, chosen: PodNetworkAttachment): Promise<PodNetworkAttachment> {
  await cleanup.track('host ports', ctx.hostPorts.hold(request.podId, request.portMappings), () => ctx.hostPorts.release(request.podId));
  return cleanup.track('network', ctx.network.attach(request, chosen), (attachment) => ctx.network.detach(request, attachment));
}

/**
 * Creates a pod: its cgroup, pinned namespaces (network wired by CNI before any container runs
 * in it) and held host ports, and has its runtime handler start it. What it will make is
 * recorded before anything exists, so that a crash at any point is undone at the next start;
 * a failure undoes every step already made.
 */
export async function runPodSandbox(ctx: ServerContext, request: RunPodSandboxRequest, caller: CallerState): Promise<RunPodSandboxResponse> {
  const { config, metadata } = validPodConfig(request.config);
  const name = podName(metadata);
  // The kubelet's retry after its deadline gets the pod the first request made.
  const podSandboxId = await ctx.kept.pods.run(name, RunPodSandboxRequest.toJSON(request), caller, () => createPod(ctx, request, config, name));
  return { podSandboxId };
}

async function createPod(ctx: ServerContext, request: RunPodSandboxRequest, config: PodSandboxConfig, name: string): Promise<string> {
  const handler = ctx.handlers.resolve(request.runtimeHandler);
  handler.admitPod(config);
  // A configured handler whose runtime is missing or cannot work here fails now, saying why.
  const readiness = await handler.readiness();
  if (!readiness.ready) throw new FailedPreconditionError(readiness.message);
  const options = namespaceOptions(config);
  const hostNetwork = options.network === NamespaceMode.NODE;
  const hostIpc = options.ipc === NamespaceMode.NODE;
  validateSysctls(config.linux?.sysctls ?? {}, { hostNetwork, hostIpc });
  const sysctls = podSysctls(config.linux?.sysctls ?? {}, ctx.config.pod, !hostNetwork);
  const mappings = portMappings(config);
  const cgroupParent = config.linux?.cgroupParent ?? '';
  // A pod that names no hostname gets the node's, as containerd gives it.
  const podHostname = config.hostname || hostname();

  const id = newId();
  ctx.state.pods.names.reserve(name, id);
  const cleanup = new CleanupStack(ctx.logger, { pod_id: id, pod_name: name });
  cleanup.push('name', async () => ctx.state.pods.names.release(name));
  try {
    const namespaceRequest = { podId: id, runroot: ctx.config.runroot, network: !hostNetwork, ipc: !hostIpc, uts: !hostNetwork };
    const [cgroupPlan, networkPlan] = await Promise.all([
      plannedPodCgroup(ctx.config.cgroup_manager, cgroupParent, id),
      hostNetwork ? undefined : ctx.network.choose(),
    ]);
    const record: PodRecord = {
      id,
      name,
      state: 'ready',
      createdAt: nowNanos(),
      runtimeHandler: handler.name,
      config: storedConfig(config),
      namespaces: plannedPodNamespaces(namespaceRequest),
      cgroup: cgroupPlan,
      hostname: podHostname,
      shmSizeBytes: hostIpc ? 0 : ctx.config.pod.shm_size_bytes,
      sysctls,
      portMappings: networkPlan === undefined ? [] : mappings,
      network: networkPlan,
    };
    await ctx.state.unfinishedPods.begin(record);

    // The cgroup and the namespaces need nothing of each other, so they are made side by side;
    // the network waits only for its namespace, and the handler for both, and for the network
    // only if it reads it. Each records its undo as it succeeds, and settle lets every step
    // finish before a failure unwinds them.
    const namespacesPinned = cleanup.track(
      'namespaces',
      pinPodNamespaces({ ...namespaceRequest, hostname: podHostname, sysctls }),
      releasePodNamespaces,
    );
    const cgroupMade = cleanup.track('cgroup', createPodCgroup(ctx.config.cgroup_manager, cgroupParent, id), removePodCgroup);
    const networkConnected = namespacesPinned.then((pinned) =>
      pinned.network === undefined || networkPlan === undefined
        ? undefined
        : connectPod(ctx, cleanup, podNetworkRequest(id, config.metadata, pinned.network, mappings), networkPlan),
    );
    const handlerStarted = settle([cgroupMade, namespacesPinned, handler.usesPodNetwork ? networkConnected : undefined]).then(([cgroup, namespaces]) =>
      cleanup.track('handler', handler.startPod(podSandboxOf({ ...record, cgroup, namespaces })), () => handler.removePod(id)),
    );
    const [cgroup, namespaces, network, handlerState] = await settle([cgroupMade, namespacesPinned, networkConnected, handlerStarted]);
    const made: PodRecord = { ...record, cgroup, namespaces, network, handlerState };
    await ctx.state.pods.save(made);
    await ctx.state.unfinishedPods.finish(id);
    // As containerd announces a sandbox: created, then started, both under the pod's ID.
    ctx.events.publishSandbox(ctx, made, ContainerEventType.CONTAINER_CREATED_EVENT);
    ctx.events.publishSandbox(ctx, made, ContainerEventType.CONTAINER_STARTED_EVENT);
    ctx.logger.info('pod sandbox running', { pod_id: id, pod_name: name, handler: handler.name, ips: network?.ips.join(',') ?? '' });
    return id;
  } catch (error) {
    // What could not be undone stays recorded, for the next start to try again.
    if (await cleanup.unwind()) await ctx.state.unfinishedPods.finish(id);
    throw error;
  }
}
