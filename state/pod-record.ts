import type { PodNamespaces } from '../network/namespaces';
import type { PodNetworkAttachment, PortMapping } from '../network/network-manager';
import type { PodCgroup } from '../oci/cgroups/pod-cgroup';
import type { PodHandlerState } from '../oci/runtime-handler';
import type { StoredObject } from './object-store';

export type PodState = 'ready' | 'notready';

/** Everything podvisord keeps about a pod sandbox, persisted so pods survive a restart. */
export interface PodRecord extends StoredObject {
  state: PodState;
  /** Nanoseconds since the epoch, as a decimal string (beyond a JS number's precision). */
  createdAt: string;
  runtimeHandler: string;
  /** The PodSandboxConfig as ts-proto's JSON form (int64 fields as strings). */
  config: unknown;
  namespaces: PodNamespaces;
  cgroup: PodCgroup;
  /** The hostname and /dev/shm size the handler was given; absent in older records. */
  hostname?: string;
  shmSizeBytes?: number;
  /** The sysctls set in its namespaces (the runtime's defaults, then its own); absent in older records. */
  sysctls?: Record<string, string>;
  portMappings: PortMapping[];
  network: PodNetworkAttachment | undefined;
  /**
   * Nanoseconds since the epoch (decimal string) at which its sandbox was found dead on its own
   * (infra process or VM ended): it reads NOTREADY from then on, while its network and host
   * ports wait for StopPodSandbox.
   */
  diedAt?: string;
  /** What the runtime handler returned from startPod; absent until it has. */
  handlerState?: PodHandlerState;
  /** Older records kept the conmon handler's pod state in these two fields. */
  files?: unknown;
  infra?: unknown;
}

export function isPodRecord(value: unknown): value is PodRecord {
  const record = value as Partial<PodRecord> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.id === 'string' &&
    typeof record.name === 'string' &&
    (record.state === 'ready' || record.state === 'notready') &&
    typeof record.createdAt === 'string' &&
    typeof record.runtimeHandler === 'string' &&
    typeof record.namespaces === 'object' &&
    typeof record.cgroup === 'object' &&
    (record.diedAt === undefined || typeof record.diedAt === 'string') &&
    (record.handlerState === undefined || (typeof record.handlerState === 'object' && record.handlerState !== null)) &&
    Array.isArray(record.portMappings)
  );
}
