import { hostname } from 'node:os';
import { pinPodNamespaces, releasePodNamespaces } from '../network/namespaces';
import type { PodNetworkAttachment, PodNetworkRequest } from '../network/network-manager';
import { validateSysctls } from '../network/sysctls';
import { startInfraProcess, stopInfraProcess } from '../oci/conmon/infra-process';
import { createPodCgroup, removePodCgroup } from '../oci/cgroups/pod-cgroup';
import { createPodFiles, removePodFiles } from '../oci/conmon/pod-files';
import { NamespaceMode, type RunPodSandboxRequest, type RunPodSandboxResponse } from '../proto/gen/cri-api-v1';
import { newId } from '../system/ids';
import type { PodRecord } from '../state/pod-record';
import { CleanupStack } from '../system/cleanup-stack';
import { FailedPreconditionError } from '../system/errors';
import { settle } from '../system/settle';
import type { ServerContext } from './context';
import { namespaceOptions, podName, portMappings, storedConfig, validPodConfig } from './pod-config';
import { podFilesDir, podNetworkRequest } from './pod-teardown';

/** Holds the pod's host ports, then runs CNI ADD in its network namespace. */
async function connectPod(ctx: ServerContext, cleanup: CleanupStack, request: PodNetworkRequest): Promise<PodNetworkAttachment> {
  await cleanup.track('host ports', ctx.hostPorts.hold(request.podId, request.portMappings), () => ctx.hostPorts.release(request.podId));
  return cleanup.track('network', ctx.network.attach(request), (attachment) => ctx.network.detach(request, attachment));
}

/**
 * Creates a pod: its cgroup, pinned namespaces (network wired by CNI before anything runs in
 * it), per-pod files, held host ports, an infra process only when the PID namespace is
 * pod-wide, then tells the runtime handler. Any failure undoes every step already made.
 */
export async function runPodSandbox(ctx: ServerContext, request: RunPodSandboxRequest): Promise<RunPodSandboxResponse> {
  const { config, metadata } = validPodConfig(request.config);
  const handler = ctx.handlers.resolve(request.runtimeHandler);
  // A configured handler whose runtime is missing or cannot work here fails now, saying why.
  const readiness = await handler.readiness();
  if (!readiness.ready) throw new FailedPreconditionError(readiness.message);
  const options = namespaceOptions(config);
  const hostNetwork = options.network === NamespaceMode.NODE;
  const hostIpc = options.ipc === NamespaceMode.NODE;
  const sysctls = config.linux?.sysctls ?? {};
  validateSysctls(sysctls, { hostNetwork, hostIpc });
  const mappings = portMappings(config);
  // A pod that names no hostname gets the node's, as containerd gives it.
  const podHostname = config.hostname || hostname();

  const id = newId();
  const name = podName(metadata);
  ctx.state.pods.names.reserve(name, id);
  const cleanup = new CleanupStack(ctx.logger, { pod_id: id, pod_name: name });
  cleanup.push('name', async () => ctx.state.pods.names.release(name));
  try {
    // The cgroup, the namespaces and the pod's files need nothing of each other, so they are
    // made side by side; the network waits only for its namespace. Each records its undo as it
    // succeeds, and settle lets every step finish before a failure unwinds them.
    const namespacesPinned = cleanup.track(
      'namespaces',
      pinPodNamespaces({
        podId: id,
        runroot: ctx.config.runroot,
        network: !hostNetwork,
        ipc: !hostIpc,
        uts: !hostNetwork,
        hostname: podHostname,
        sysctls,
      }),
      releasePodNamespaces,
    );
    const networkConnected = namespacesPinned.then((pinned) =>
      pinned.network === undefined ? undefined : connectPod(ctx, cleanup, podNetworkRequest(id, metadata, pinned.network, mappings)),
    );
    const filesDir = podFilesDir(ctx, id);
    const [cgroup, namespaces, files, network] = await settle([
      cleanup.track('cgroup', createPodCgroup(ctx.config.cgroup_manager, config.linux?.cgroupParent ?? '', id), removePodCgroup),
      namespacesPinned,
      cleanup.track(
        'files',
        createPodFiles({
          dir: filesDir,
          hostname: podHostname,
          dns: config.dnsConfig,
          hostNetwork,
          shmSizeBytes: hostIpc ? 0 : ctx.config.pod.shm_size_bytes,
        }),
        () => removePodFiles(filesDir),
      ),
      networkConnected,
    ]);

    const record: PodRecord = {
      id,
      name,
      state: 'ready',
      createdAt: (BigInt(Date.now()) * 1_000_000n).toString(),
      runtimeHandler: handler.name,
      config: storedConfig(config),
      namespaces,
      cgroup,
      files,
      portMappings: network === undefined ? [] : mappings,
      network,
      infra: undefined,
    };
    if (options.pid === NamespaceMode.POD) {
      // The hostname is the pod's own only in its own UTS namespace; with the host's it stays as is.
      const infraHostname = namespaces.uts ? podHostname : undefined;
      record.infra = await startInfraProcess({ pauseBinary: ctx.pauseBinary, namespaces, cgroup, hostname: infraHostname });
      const infra = record.infra;
      cleanup.push('infra', () => stopInfraProcess(infra));
    }
    await handler.startPod({ id, netns: namespaces.network, cgroupPath: cgroup.path });
    cleanup.push('handler', () => handler.removePod(id));
    await ctx.state.pods.save(record);
    ctx.logger.info('pod sandbox running', { pod_id: id, pod_name: name, handler: handler.name, ips: record.network?.ips.join(',') ?? '' });
    return { podSandboxId: id };
  } catch (error) {
    await cleanup.unwind();
    throw error;
  }
}
