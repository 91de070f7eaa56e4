import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX, syncDirectory, writeFileAtomic } from './atomic-file';
import { writing } from './disk-full';
import { errorCode } from './error-code';
import { errorMessage } from './errors';
import type { Logger } from './logger';

const SUFFIX = '.json';

/**
 * One JSON file per record in a directory, named `<stem>.json` after the record, each written
 * atomically, so a crash leaves every record whole: old or new, never half-written.
 */
export class RecordFiles<T> {
  constructor(
    private readonly dir: string,
    private readonly isRecord: (value: unknown) => value is T,
    /** The file name of a record, without `.json`. */
    private readonly stemOf: (record: T) => string,
    private readonly logger: Logger,
  ) {}

  private file(stem: string): string {
    return join(this.dir, stem + SUFFIX);
  }

  async write(record: T): Promise<void> {
    await writeFileAtomic(this.file(this.stemOf(record)), JSON.stringify(record));
  }

  /**
   * Deletes the record; `durable: false` skips syncing the directory, for a record whose return
   * after a power loss only repeats work that is idempotent.
   */
  async delete(stem: string, { durable } = { durable: true }): Promise<void> {
    try {
      await unlink(this.file(stem));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return;
    }
    if (durable) await syncDirectory(this.dir);
  }

  /**
   * Moves the record `stem` into `destination`'s directory in one rename (both are under the
   * daemon's root, on one filesystem): a crash leaves it whole in one place or the other, never
   * in both or neither. Durable once this resolves; a record that is not there moves nothing.
   */
  async moveTo(stem: string, destination: RecordFiles<T>): Promise<void> {
    const to = destination.file(stem);
    try {
      await writing(to, () => rename(this.file(stem), to));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      return;
    }
    await Promise.all([syncDirectory(destination.dir), syncDirectory(this.dir)]);
  }

  /**
   * Reads every record. Leftover temp files from an interrupted write are removed; a file
   * that does not parse as a record of its own name (cut short, not JSON) is set aside as
   * NAME.corrupt and reported, not loaded: `setAside` holds the names (stems) of those.
   */
  async readAll(): Promise<{ records: T[]; setAside: string[] }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const records: T[] = [];
    const setAside: string[] = [];
    for (const entry of await readdir(this.dir)) {
      const path = join(this.dir, entry);
      if (entry.startsWith(TEMP_PREFIX)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (!entry.endsWith(SUFFIX)) continue;
      let problem: string | undefined;
      try {
        const value: unknown = JSON.parse(await readFile(path, 'utf8'));
        if (this.isRecord(value) && this.stemOf(value) + SUFFIX === entry) records.push(value);
        else problem = 'not a valid record';
      } catch (error) {
        problem = errorMessage(error);
      }
      if (problem) {
        this.logger.error('record set aside', { file: path, problem });
        await rename(path, `${path}.corrupt`);
        setAside.push(entry.slice(0, -SUFFIX.length));
      }
    }
    return { records, setAside };
  }
}
