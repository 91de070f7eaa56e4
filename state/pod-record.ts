import type { PodNamespaces } from '../network/namespaces';
import type { PodNetworkAttachment, PortMapping } from '../network/network-manager';
import type { InfraProcess } from '../oci/conmon/infra-process';
import type { PodCgroup } from '../oci/cgroups/pod-cgroup';
import type { PodFiles } from '../oci/conmon/pod-files';
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
  files: PodFiles;
  portMappings: PortMapping[];
  network: PodNetworkAttachment | undefined;
  infra: InfraProcess | undefined;
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
    typeof record.files === 'object' &&
    Array.isArray(record.portMappings)
  );
}
