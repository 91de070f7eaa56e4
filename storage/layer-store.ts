import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writing } from '../system/disk-full';
import { InvalidArgumentError } from '../system/errors';
import { pathExists } from '../system/path-exists';
import { digestHex } from './digest';

const TEMP_PREFIX = '.tmp-';

/**
 * Unpacked layers, one directory per diff_id, each ready to be an overlayfs lower directory
 * and shared by every image that has the layer. A layer directory exists only complete: it is
 * unpacked under a temporary name and renamed into place.
 */
export class LayerStore {
  constructor(private readonly dir: string) {}

  /** Creates the directory and removes unpacks a previous run left half done. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(this.dir)) {
      if (entry.startsWith(TEMP_PREFIX)) await rm(join(this.dir, entry), { recursive: true, force: true });
    }
  }

  /** The directory holding the layer with this diff_id. */
  path(diffId: string): string {
    return join(this.dir, digestHex(diffId));
  }

  async has(diffId: string): Promise<boolean> {
    return pathExists(this.path(diffId));
  }

  /**
   * Adds a layer: `unpack` fills an empty directory and returns the diff_id of what it
   * unpacked, which must be the one expected.
   */
  async add(diffId: string, unpack: (dir: string) => Promise<string>): Promise<void> {
    const temp = join(this.dir, `${TEMP_PREFIX}${digestHex(diffId)}-${randomBytes(4).toString('hex')}`);
    await writing(`layer ${diffId}`, () => mkdir(temp, { mode: 0o755 }));
    try {
      const actual = await unpack(temp);
      if (actual !== diffId) throw new InvalidArgumentError(`layer content is ${actual}, but the image config says ${diffId}`);
      await rename(temp, this.path(diffId));
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Takes a layer out of the store at once, under a temporary name that `purge` (or the next
   * `init`) deletes; returns that name.
   */
  async detach(diffId: string): Promise<string> {
    const trash = join(this.dir, `${TEMP_PREFIX}gc-${digestHex(diffId)}-${randomBytes(4).toString('hex')}`);
    await rename(this.path(diffId), trash);
    return trash;
  }

  async purge(trash: string): Promise<void> {
    await rm(trash, { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    return (await readdir(this.dir)).filter((entry) => !entry.startsWith(TEMP_PREFIX)).map((hex) => `sha256:${hex}`);
  }
}
