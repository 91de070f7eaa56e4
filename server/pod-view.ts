import { PodSandboxState, type NamespaceOption, type PodSandbox, type PodSandboxStatus } from '../proto/gen/cri-api-v1';
import type { PodRecord } from '../state/pod-record';
import { cachedPerObject } from '../system/per-object-cache';
import { loadedConfig, namespaceOptions } from './pod-config';

/** Started and not stopped, and its sandbox not recorded dead. */
function ready(pod: PodRecord): boolean {
  return pod.state === 'ready' && pod.diedAt === undefined;
}

function state(pod: PodRecord): PodSandboxState {
  return ready(pod) ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

// Made once per record, as records are replaced whenever a pod changes.

/** A pod as ListPodSandbox shows it. */
export const criPodSandbox = cachedPerObject((pod: PodRecord): PodSandbox => {
  const config = loadedConfig(pod.config);
  return {
    id: pod.id,
    metadata: config.metadata,
    state: state(pod),
    createdAt: BigInt(pod.createdAt),
    labels: config.labels,
    annotations: config.annotations,
    runtimeHandler: pod.runtimeHandler,
  };
});

/** A pod as PodSandboxStatus shows it; the first IP is the pod IP, the rest additional ones. */
export const criPodSandboxStatus = cachedPerObject((pod: PodRecord): PodSandboxStatus => {
  const options: NamespaceOption = namespaceOptions(loadedConfig(pod.config));
  // A stopped or dead pod has no network to reach it by; CRI wants no IPs reported then.
  const ips = ready(pod) ? (pod.network?.ips ?? []) : [];
  return {
    ...criPodSandbox(pod),
    network: { ip: ips[0] ?? '', additionalIps: ips.slice(1).map((ip) => ({ ip })) },
    linux: { namespaces: { options } },
  };
});
