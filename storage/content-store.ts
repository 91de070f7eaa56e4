import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writing } from '../system/disk-full';
import { pathExists } from '../system/path-exists';
import { digestHex } from './digest';

/**
 * Blobs (manifests, configs, compressed layers) by sha256 digest. A blob only ever appears
 * under its digest complete and verified: downloads go to ingest/ and are renamed into place.
 */
export class ContentStore {
  private readonly blobDir: string;
  private readonly ingestDir: string;

  constructor(dir: string) {
    this.blobDir = join(dir, 'blobs', 'sha256');
    this.ingestDir = join(dir, 'ingest');
  }

  /** Creates the directories and drops downloads a previous run left unfinished. */
  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true, mode: 0o700 });
    await rm(this.ingestDir, { recursive: true, force: true });
    await mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    return pathExists(this.path(digest));
  }

  /**
   * Adds a blob: `write` fills a fresh temp file and must verify what it writes; the file
   * becomes the blob only if `write` succeeds.
   */
  async ingest(digest: string, write: (tempFile: string) => Promise<void>): Promise<void> {
    await writing(`blob ${digest}`, () =>
      this.withTempFile(digest, async (temp) => {
        await write(temp);
        await rename(temp, this.path(digest));
      }),
    );
  }

  /** A scratch file in ingest/ for `use`, removed afterwards whatever happens. */
  async withTempFile<T>(digest: string, use: (tempFile: string) => Promise<T>): Promise<T> {
    const temp = join(this.ingestDir, `${digestHex(digest)}.${randomBytes(4).toString('hex')}`);
    try {
      return await use(temp);
    } finally {
      await rm(temp, { force: true });
    }
  }

  async read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  async list(): Promise<string[]> {
    return (await readdir(this.blobDir)).map((hex) => `sha256:${hex}`);
  }
}
