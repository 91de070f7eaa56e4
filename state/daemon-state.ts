import { join } from 'node:path';
import type { Logger } from '../system/logger';
import { ObjectStore } from './object-store';
import { isPodRecord, type PodRecord } from './pod-record';
import type { StoredObject } from './record-files';

function isStoredObject(value: unknown): value is StoredObject {
  const record = value as Partial<StoredObject> | null;
  return typeof record === 'object' && record !== null && typeof record.id === 'string' && typeof record.name === 'string';
}

/** Everything the daemon persists about pods and containers, loaded at start. */
export class DaemonState {
  readonly pods: ObjectStore<PodRecord>;
  readonly containers: ObjectStore<StoredObject>;

  constructor(root: string, logger: Logger) {
    this.pods = new ObjectStore('pod sandbox', join(root, 'pods'), isPodRecord, logger);
    this.containers = new ObjectStore('container', join(root, 'containers'), isStoredObject, logger);
  }

  async load(): Promise<void> {
    await this.pods.load();
    await this.containers.load();
  }
}
