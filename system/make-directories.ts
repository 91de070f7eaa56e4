import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorCode } from './error-code';

/**
 * `mkdir -p`: makes `path` and any missing parents; resolves to the first directory it made,
 * undefined when `path` was there. Node's recursive mkdir reports any failure as ENOENT (a full
 * disk too, nodejs/node#47098); when it does, the directories are made one by one, which fails
 * with the real reason.
 */
export async function makeDirectories(path: string, mode?: number): Promise<string | undefined> {
  try {
    return await mkdir(path, { recursive: true, mode });
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    return makeOneByOne(path, mode);
  }
}

async function makeOneByOne(path: string, mode: number | undefined): Promise<string | undefined> {
  try {
    await mkdir(path, { mode });
    return path;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return undefined;
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw error;
    const first = await makeOneByOne(parent, mode);
    await mkdir(path, { mode }).catch((again: unknown) => {
      if (errorCode(again) !== 'EEXIST') throw again;
    });
    return first ?? path;
  }
}
