import { isId } from '../system/ids';
import type { Logger } from '../system/logger';
import { RecordFiles } from '../system/record-files';
import type { StoredObject } from './object-store';

/**
 * Records of work under way on objects: creations, each written before the first thing it
 * makes exists and deleted once the object's own record is saved or everything made is undone;
 * or removals, each the object's record moved here as it leaves the store and deleted once what
 * it names is taken apart. Those a crash left are the daemon's to finish or undo when it starts
 * again; nothing else reads them.
 */
export class UnfinishedRecords<T extends StoredObject> {
  private readonly files: RecordFiles<T>;
  private leftOver: T[] = [];
  /** The IDs whose records were damaged and set aside at load: creations nothing more is known of. */
  damaged: string[] = [];

  constructor(dir: string, isRecord: (value: unknown) => value is T, logger: Logger) {
    const isStored = (value: unknown): value is T => isRecord(value) && isId(value.id);
    this.files = new RecordFiles(dir, isStored, (record) => record.id, logger);
  }

  async load(): Promise<void> {
    const { records, setAside } = await this.files.readAll();
    this.leftOver = records;
    this.damaged = setAside.filter(isId);
  }

  /** The creations the previous run of the daemon did not finish. */
  left(): T[] {
    return this.leftOver;
  }

  /** Before the creation makes anything: what it is about to make. */
  begin(record: T): Promise<void> {
    return this.files.write(record);
  }

  /** A removal: the object's record, moved here whole from `store` (see ObjectStore.remove). */
  adopt(store: RecordFiles<T>, id: string): Promise<void> {
    return store.moveTo(id, this.files);
  }

  /** The work is done: saved as an object, undone or taken apart; an unknown ID does nothing. */
  async finish(id: string): Promise<void> {
    // Not synced: a record a power loss brings back names work that is done, and finishing
    // (or undoing) it again at the next start finds nothing left to do.
    await this.files.delete(id, { durable: false });
    this.leftOver = this.leftOver.filter((record) => record.id !== id);
  }
}
