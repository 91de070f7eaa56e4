import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { diskFullError, writing } from '../system/disk-full';
import { makeDirectories } from '../system/make-directories';

export type LogStream = 'stdout' | 'stderr';

/**
 * Writes a container's output in the CRI log format the kubelet and crictl read
 * ("<RFC 3339 time> <stream> <F|P> <text>" per line, P marking a line that continues in the
 * next entry), as conmon does for runc containers. Writes keep their order; reopen() starts a
 * new file at the same path after the kubelet rotated the old one away.
 *
 * A write lands whole or not at all: one the disk has no room for leaves the file as it was
 * (ResourceExhausted), so the log never holds half an entry, and the next write tries again.
 */
export class CriLogWriter {
  private file: FileHandle | undefined;
  private closed = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {
    // Made at once, so the file is there as soon as the container is; a failed open is tried
    // again by the next write.
    this.enqueue(() => this.openFile()).catch(() => undefined);
  }

  private async openFile(): Promise<FileHandle> {
    this.file = await writing(`the container log ${this.path}`, async () => {
      await makeDirectories(dirname(this.path));
      return open(this.path, 'a', 0o640);
    });
    return this.file;
  }

  /** Appends one chunk of output, split into entries at its line ends. */
  write(stream: LogStream, chunk: Buffer, at = new Date()): Promise<void> {
    return this.enqueue(async () => {
      // Output that comes after the container's end has no log to go to.
      if (this.closed) return;
      await this.append(this.file ?? (await this.openFile()), CriLogWriter.entries(stream, chunk, at));
    });
  }

  private async append(file: FileHandle, data: Buffer): Promise<void> {
    let written = 0;
    try {
      while (written < data.length) written += (await file.write(data, written)).bytesWritten;
    } catch (error) {
      // What part of it did land is taken back, so the next entry starts a line of its own.
      if (written > 0) await file.truncate((await file.stat()).size - written);
      throw diskFullError(error, `the container log ${this.path}`) ?? error;
    }
  }

  static entries(stream: LogStream, chunk: Buffer, at: Date): Buffer {
    const time = at.toISOString();
    const parts: Buffer[] = [];
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(0x0a, start);
      const last = end === -1;
      parts.push(Buffer.from(`${time} ${stream} ${last ? 'P' : 'F'} `), chunk.subarray(start, last ? chunk.length : end), Buffer.from('\n'));
      start = last ? chunk.length : end + 1;
    }
    return Buffer.concat(parts);
  }

  reopen(): Promise<void> {
    return this.enqueue(async () => {
      await this.closeFile();
      await this.openFile();
    });
  }

  close(): Promise<void> {
    return this.enqueue(async () => {
      this.closed = true;
      await this.closeFile();
    });
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private enqueue<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step);
    this.queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}
