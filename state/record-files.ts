import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX, syncDirectory, writeFileAtomic } from '../system/atomic-file';
import { errorMessage } from '../system/errors';
import type { Logger } from '../system/logger';
import { isId } from './ids';

/** Every persisted pod or container record carries at least these. */
export interface StoredObject {
  id: string;
  /** The name reserved for it, released when it is removed. */
  name: string;
}

const SUFFIX = '.json';

/**
 * One JSON file per record in a directory under root, each written atomically, so a crash
 * leaves every record whole: old or new, never half-written.
 */
export class RecordFiles<T extends StoredObject> {
  constructor(
    private readonly dir: string,
    private readonly isRecord: (value: unknown) => value is T,
    private readonly logger: Logger,
  ) {}

  private file(id: string): string {
    return join(this.dir, id + SUFFIX);
  }

  async write(record: T): Promise<void> {
    await writeFileAtomic(this.file(record.id), JSON.stringify(record));
  }

  async delete(id: string): Promise<void> {
    try {
      await unlink(this.file(id));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return;
    }
    await syncDirectory(this.dir);
  }

  /**
   * Reads every record. Leftover temp files from an interrupted write are removed; a file
   * that does not parse as a record is set aside as NAME.corrupt and reported, not loaded.
   */
  async readAll(): Promise<T[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const records: T[] = [];
    for (const entry of await readdir(this.dir)) {
      const path = join(this.dir, entry);
      if (entry.startsWith(TEMP_PREFIX)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (!entry.endsWith(SUFFIX)) continue;
      const id = entry.slice(0, -SUFFIX.length);
      let problem: string | undefined;
      try {
        const value: unknown = JSON.parse(await readFile(path, 'utf8'));
        if (isId(id) && this.isRecord(value) && value.id === id) records.push(value);
        else problem = 'not a valid record';
      } catch (error) {
        problem = errorMessage(error);
      }
      if (problem) {
        this.logger.error('record set aside', { file: path, problem });
        await rename(path, `${path}.corrupt`);
      }
    }
    return records;
  }
}
