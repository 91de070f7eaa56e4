// Reading a PodSandboxConfig: the checks RunPodSandbox makes before it creates anything, and
// the facts about the pod the other pod verbs need.
import { NamespaceMode, PodSandboxConfig, Protocol, type NamespaceOption, type PodSandboxMetadata } from '../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../system/errors';
import { cachedParse } from '../system/per-object-cache';
import { isPort } from '../system/tcp-port';
import type { PortMapping } from '../network/network-manager';
import { checkPodSandboxConfig } from './request-validation';

/** The config with the metadata every pod must have, or InvalidArgument naming what is missing. */
export function validPodConfig(config: PodSandboxConfig | undefined): { config: PodSandboxConfig; metadata: PodSandboxMetadata } {
  if (!config) throw new InvalidArgumentError('RunPodSandbox: config is missing');
  const metadata = config.metadata;
  if (!metadata) throw new InvalidArgumentError('RunPodSandbox: config.metadata is missing');
  for (const field of ['name', 'namespace', 'uid'] as const) {
    if (metadata[field] === '') throw new InvalidArgumentError(`RunPodSandbox: config.metadata.${field} is empty`);
  }
  checkPodSandboxConfig(config);
  return { config, metadata };
}

/** The name the kubelet's dockershim and CRI-O reserve for a pod, one per attempt. */
export function podName(metadata: PodSandboxMetadata): string {
  return `k8s_POD_${metadata.name}_${metadata.namespace}_${metadata.uid}_${metadata.attempt}`;
}

export function namespaceOptions(config: PodSandboxConfig): NamespaceOption {
  return (
    config.linux?.securityContext?.namespaceOptions ?? {
      network: NamespaceMode.POD,
      pid: NamespaceMode.CONTAINER,
      ipc: NamespaceMode.POD,
      targetId: '',
      usernsOptions: undefined,
    }
  );
}

const PROTOCOLS: Record<number, PortMapping['protocol']> = { [Protocol.TCP]: 'tcp', [Protocol.UDP]: 'udp', [Protocol.SCTP]: 'sctp' };

/** The published port mappings (a host port of 0 publishes nothing), checked. */
export function portMappings(config: PodSandboxConfig): PortMapping[] {
  return config.portMappings
    .filter((mapping) => mapping.hostPort > 0)
    .map((mapping) => {
      const protocol = PROTOCOLS[mapping.protocol];
      if (!protocol) throw new InvalidArgumentError(`RunPodSandbox: port mapping ${mapping.hostPort} has an unknown protocol`);
      if (!isPort(mapping.hostPort) || !isPort(mapping.containerPort)) {
        throw new InvalidArgumentError(`RunPodSandbox: port mapping ${mapping.hostPort}:${mapping.containerPort} is out of range`);
      }
      return { protocol, containerPort: mapping.containerPort, hostPort: mapping.hostPort, hostIp: mapping.hostIp };
    });
}

/** The config as stored in the pod record, and back. */
export function storedConfig(config: PodSandboxConfig): unknown {
  return PodSandboxConfig.toJSON(config);
}

/** The config stored in a pod record, parsed once per stored object. */
export const loadedConfig: (stored: unknown) => PodSandboxConfig = cachedParse((stored) => PodSandboxConfig.fromJSON(stored));
