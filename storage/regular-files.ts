import { open, type FileHandle } from 'node:fs/promises';
import { isDiskFull } from '../system/disk-full';
import { InternalError, errorMessage } from '../system/errors';
import { settle } from '../system/settle';
import type { EntryMetadata } from './layer-entry';
import { quoteName } from './layer-errors';

// Bounds on the work left running behind the tar stream: bytes not yet written, files not yet closed.
const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;
const MAX_FILES_IN_FLIGHT = 64;

/**
 * Writes the regular files of a layer without waiting for each system call in turn: layers of many
 * small files are bound by the latency of Node's fs thread pool, not by the disk. A file is created
 * in the caller's turn; its data is written at explicit offsets as it streams in, and its owner, mode
 * and times are set once the data is down, in the background. Only calls on the open descriptor run
 * in the background, so a later entry that replaces the path (or a parent) cannot redirect them.
 */
export class RegularFiles {
  private readonly files = new Set<Promise<void>>();
  private readonly writes = new Set<Promise<void>>();
  private bytesInFlight = 0;
  private failure: unknown;

  /** Creates `path`, which must not exist ('wx': O_CREAT|O_EXCL, so nothing there is followed), and consumes `data` into it. */
  async write(path: Buffer, meta: EntryMetadata, data: AsyncIterable<unknown>): Promise<void> {
    this.throwIfFailed();
    while (this.files.size >= MAX_FILES_IN_FLIGHT) await Promise.race(this.files);
    const file = await open(path, 'wx', 0o600);
    const writes: Array<Promise<void>> = [];
    try {
      let position = 0;
      for await (const chunk of data) {
        if (!(chunk instanceof Uint8Array)) throw new InternalError('tar entry data is not bytes');
        writes.push(this.writeAt(file, chunk, position));
        position += chunk.length;
        while (this.bytesInFlight > MAX_BYTES_IN_FLIGHT) await Promise.race(this.writes);
      }
    } catch (error) {
      this.track(path, settle(writes).finally(() => file.close()));
      throw error;
    }
    this.track(path, finish(file, writes, meta));
  }

  /** Waits for everything in the background; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.settled();
    this.throwIfFailed();
  }

  /** Waits for everything in the background, whatever the outcome: afterwards no file is open. */
  async settled(): Promise<void> {
    while (this.files.size > 0) await Promise.allSettled(this.files);
  }

  private writeAt(file: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
    this.bytesInFlight += chunk.length;
    const write = writeFully(file, chunk, position);
    // Paces the stream only; a failure surfaces through the file's completion.
    const pacing: Promise<void> = write
      .catch(() => undefined)
      .finally(() => {
        this.bytesInFlight -= chunk.length;
        this.writes.delete(pacing);
      });
    this.writes.add(pacing);
    return write;
  }

  private track(path: Buffer, work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((error: unknown) => {
        // A full disk stays the system error, for the unpack to report with the layer's directory.
        this.failure ??= isDiskFull(error) ? error : new InternalError(`writing layer file ${quoteName(path.toString('latin1'))}: ${errorMessage(error)}`);
      })
      .finally(() => this.files.delete(tracked));
    this.files.add(tracked);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/** Once all of a file's data is written: owner first (chown clears setuid and setgid), then mode, then times. */
async function finish(file: FileHandle, writes: Array<Promise<void>>, meta: EntryMetadata): Promise<void> {
  try {
    await settle(writes);
    await file.chown(meta.uid, meta.gid);
    await file.chmod(meta.mode);
    await file.utimes(meta.mtime, meta.mtime);
  } finally {
    await file.close();
  }
}

async function writeFully(file: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < chunk.length; ) {
    written += (await file.write(chunk, written, chunk.length - written, position + written)).bytesWritten;
  }
}
