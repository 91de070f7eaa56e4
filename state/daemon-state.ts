import { join } from 'node:path';
import type { Logger } from '../system/logger';
import { isContainerRecord, type ContainerRecord } from './container-record';
import { ObjectStore } from './object-store';
import { isPodRecord, type PodRecord } from './pod-record';

/** Everything the daemon persists about pods and containers, loaded at start. */
export class DaemonState {
  readonly pods: ObjectStore<PodRecord>;
  readonly containers: ObjectStore<ContainerRecord>;

  constructor(root: string, logger: Logger) {
    this.pods = new ObjectStore('pod sandbox', join(root, 'pods'), isPodRecord, logger);
    this.containers = new ObjectStore('container', join(root, 'containers'), isContainerRecord, logger);
  }

  async load(): Promise<void> {
    await this.pods.load();
    await this.containers.load();
  }
}
