import { join } from 'node:path';
import { KeyedLock } from '../system/keyed-lock';
import type { Logger } from '../system/logger';
import { isContainerRecord, type ContainerRecord } from './container-record';
import { ObjectStore } from './object-store';
import { isPodRecord, type PodRecord } from './pod-record';
import { RuntimeConfigStore } from './runtime-config-store';
import { UnfinishedRecords } from './unfinished-records';

/** Everything the daemon persists about pods and containers, loaded at start. */
export class DaemonState {
  readonly pods: ObjectStore<PodRecord>;
  readonly containers: ObjectStore<ContainerRecord>;
  /** Pods and containers being created: what each is about to make, for a crash to be undone. */
  readonly unfinishedPods: UnfinishedRecords<PodRecord>;
  readonly unfinishedContainers: UnfinishedRecords<ContainerRecord>;
  /** Containers removed from every answer whose parts are still being taken apart. */
  readonly removedContainers: UnfinishedRecords<ContainerRecord>;
  /** What the kubelet sent with UpdateRuntimeConfig (the node's pod CIDR). */
  readonly runtimeConfig: RuntimeConfigStore;
  /** Orders the calls that change one pod or container (see server/object-order.ts). */
  readonly locks = new KeyedLock();

  constructor(root: string, logger: Logger) {
    this.pods = new ObjectStore('pod sandbox', join(root, 'pods'), isPodRecord, logger);
    this.containers = new ObjectStore('container', join(root, 'containers'), isContainerRecord, logger);
    this.unfinishedPods = new UnfinishedRecords(join(root, 'unfinished', 'pods'), isPodRecord, logger);
    this.unfinishedContainers = new UnfinishedRecords(join(root, 'unfinished', 'containers'), isContainerRecord, logger);
    this.removedContainers = new UnfinishedRecords(join(root, 'removed', 'containers'), isContainerRecord, logger);
    this.runtimeConfig = new RuntimeConfigStore(join(root, 'runtime-config'), logger);
  }

  async load(): Promise<void> {
    await Promise.all([this.pods.load(), this.containers.load(), this.unfinishedPods.load(), this.unfinishedContainers.load(), this.removedContainers.load(), this.runtimeConfig.load()]);
  }
}
