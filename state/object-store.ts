import { NotFoundError } from '../system/errors';
import type { Logger } from '../system/logger';
import { isId } from '../system/ids';
import { KeyedLock } from '../system/keyed-lock';
import { RecordFiles } from '../system/record-files';
import { IdIndex } from './id-index';
import { NameRegistrar } from './name-registrar';
import type { UnfinishedRecords } from './unfinished-records';

/** Every persisted pod or container record carries at least these. */
export interface StoredObject {
  id: string;
  /** The name reserved for it, released when it is removed. */
  name: string;
}

/**
 * The pods (or the containers) the daemon knows: records in memory, found by ID prefix, with
 * their names reserved, and persisted under root so they survive a restart.
 */
export class ObjectStore<T extends StoredObject> {
  readonly index: IdIndex;
  readonly names = new NameRegistrar();
  /** The IDs whose records were damaged and set aside at load: what they made is left to undo. */
  damaged: string[] = [];
  private readonly records = new Map<string, T>();
  private readonly files: RecordFiles<T>;
  // One write per record at a time, in the order asked: a file written later holds the newer record.
  private readonly writes = new KeyedLock();

  constructor(kind: string, dir: string, isRecord: (value: unknown) => value is T, logger: Logger) {
    this.index = new IdIndex(kind);
    const isStored = (value: unknown): value is T => isRecord(value) && isId(value.id);
    this.files = new RecordFiles(dir, isStored, (record) => record.id, logger);
  }

  async load(): Promise<void> {
    const { records, setAside } = await this.files.readAll();
    for (const record of records) this.track(record);
    this.damaged = setAside.filter(isId);
  }

  private track(record: T): void {
    this.index.add(record.id);
    this.names.reserve(record.name, record.id);
    this.records.set(record.id, record);
  }

  /** The record an ID or unique ID prefix names (NotFound / InvalidArgument otherwise). */
  get(idOrPrefix: string): T {
    return this.records.get(this.index.resolve(idOrPrefix)) as T;
  }

  /** Like get, but undefined when nothing has that ID (for the idempotent verbs). */
  find(idOrPrefix: string): T | undefined {
    try {
      return this.get(idOrPrefix);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  list(): T[] {
    return [...this.records.values()];
  }

  get size(): number {
    return this.records.size;
  }

  /** Persists a new or changed record; its name must already be reserved for it or free. */
  save(record: T): Promise<void> {
    return this.writes.run(record.id, 'exclusive', async () => {
      const alreadyHeld = this.names.holder(record.name) === record.id;
      this.names.reserve(record.name, record.id);
      try {
        await this.files.write(record);
      } catch (error) {
        if (!alreadyHeld) this.names.release(record.name);
        throw error;
      }
      this.track(record);
    });
  }

  /**
   * Changes a record from what it is when the write starts, not from a copy read earlier, so
   * writers that race (a verb and the exit watcher) lose nothing. A record removed meanwhile
   * stays removed: the result is then undefined.
   */
  update(id: string, change: (current: T) => T): Promise<T | undefined> {
    return this.writes.run(id, 'exclusive', async () => {
      const current = this.records.get(id);
      if (!current) return undefined;
      const next = change(current);
      if (next === current) return current;
      await this.files.write(next);
      this.track(next);
      return next;
    });
  }

  /**
   * Forgets a record and frees its name; removing an unknown ID does nothing. With `pending`,
   * the record file moves there (in one rename) instead of being deleted, for what the record
   * names to be taken apart after.
   */
  remove(id: string, pending?: UnfinishedRecords<T>): Promise<void> {
    return this.writes.run(id, 'exclusive', async () => {
      const record = this.records.get(id);
      await (pending ? pending.adopt(this.files, id) : this.files.delete(id));
      this.records.delete(id);
      this.index.delete(id);
      if (record) this.names.release(record.name);
    });
  }
}
