import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writing } from './disk-full';

// Temporary files are named with this prefix so readers can skip (and clean up) leftovers of
// a write cut short by a crash.
export const TEMP_PREFIX = '.tmp-';

export interface AtomicWriteOptions {
  mode?: number;
  /**
   * false for files that a reboot makes moot (those under the run root, whose pods do not
   * survive it): they skip the fsyncs, and a crash of the daemon alone still leaves old or new.
   */
  durable?: boolean;
}

/**
 * Writes `data` to `path` so that a reader sees either the old content or all of the new. A full
 * disk is ResourceExhausted, and leaves the old content and no temporary file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  return writing(path, () => replaceFile(path, data, options.mode ?? 0o600, options.durable ?? true));
}

async function replaceFile(path: string, data: string | Uint8Array, mode: number, durable: boolean): Promise<void> {
  const temp = join(dirname(path), `${TEMP_PREFIX}${basename(path)}.${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (durable) await syncDirectory(dirname(path));
}

/** Makes a rename or unlink in `dir` durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
