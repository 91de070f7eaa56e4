import type { StoredObject } from './object-store';

export type ContainerLifecycle = 'created' | 'running' | 'exited';

/** Everything podvisord keeps about a container, persisted so containers survive a restart. */
export interface ContainerRecord extends StoredObject {
  podId: string;
  state: ContainerLifecycle;
  /** Nanosecond timestamps as decimal strings; "0" when it has not happened. */
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  /** Completed, Error or OOMKilled once exited. */
  reason: string;
  /** The image as the kubelet named it, and the ID it resolved to. */
  image: string;
  imageId: string;
  /**
   * The diff_ids of the layers its root filesystem is made of, held from removal while this
   * record exists; absent in records made before containers held their layers.
   */
  imageLayers?: string[];
  /** The ContainerConfig in ts-proto's JSON form. */
  config: unknown;
  logPath: string;
  /** Where the container's root filesystem and bundle live. */
  dir: string;
  stopSignal: string;
  /** Who the process runs as, as the generated spec says. */
  user: { uid: number; gid: number; additionalGids: number[] };
  /**
   * The OCI spec as written to the bundle, for verbose ContainerStatus to answer from the record
   * whatever becomes of the bundle; absent in records made before it was kept.
   */
  runtimeSpec?: unknown;
}

export function isContainerRecord(value: unknown): value is ContainerRecord {
  const record = value as Partial<ContainerRecord> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.id === 'string' &&
    typeof record.name === 'string' &&
    typeof record.podId === 'string' &&
    (record.state === 'created' || record.state === 'running' || record.state === 'exited') &&
    typeof record.createdAt === 'string' &&
    typeof record.imageId === 'string' &&
    (record.imageLayers === undefined || (Array.isArray(record.imageLayers) && record.imageLayers.every((layer) => typeof layer === 'string'))) &&
    typeof record.dir === 'string' &&
    typeof record.user === 'object'
  );
}
