import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from './error-code';

/**
 * Makes the directories leading to the file `relative` (no '..' in it) below `base`, one at a
 * time, and never through a symbolic link or anything else that is not a directory; the file,
 * when it exists, must be a regular file. Nothing on the way can lead the path out of `base`.
 * Resolves to the first part that is not what it must be, or undefined when none is.
 */
export async function fileBelow(base: string, relative: string): Promise<string | undefined> {
  const parts = relative.split('/').filter((part) => part !== '' && part !== '.');
  let path = base;
  for (const [index, part] of parts.entries()) {
    path = join(path, part);
    const last = index === parts.length - 1;
    if (!last) {
      await mkdir(path).catch((error: unknown) => {
        if (errorCode(error) !== 'EEXIST') throw error;
      });
    }
    const stats = await lstat(path).catch((error: unknown) => {
      if (last && errorCode(error) === 'ENOENT') return undefined;
      throw error;
    });
    if (stats !== undefined && !(last ? stats.isFile() : stats.isDirectory())) return path;
  }
  return undefined;
}
