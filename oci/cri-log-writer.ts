import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

export type LogStream = 'stdout' | 'stderr';

/**
 * Writes a container's output in the CRI log format the kubelet and crictl read
 * ("<RFC 3339 time> <stream> <F|P> <text>" per line, P marking a line that continues in the
 * next entry), as conmon does for runc containers. Writes keep their order; reopen() starts a
 * new file at the same path after the kubelet rotated the old one away.
 */
export class CriLogWriter {
  private file: Promise<FileHandle>;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {
    this.file = CriLogWriter.openFile(path);
    // A failed open is reported by the next write or reopen, not as an unhandled rejection.
    this.file.catch(() => undefined);
  }

  private static async openFile(path: string): Promise<FileHandle> {
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'a', 0o640);
  }

  /** Appends one chunk of output, split into entries at its line ends. */
  write(stream: LogStream, chunk: Buffer, at = new Date()): Promise<void> {
    return this.enqueue(async () => {
      const file = await this.file;
      await file.write(CriLogWriter.entries(stream, chunk, at));
    });
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
      const old = await this.file.catch(() => undefined);
      await old?.close();
      this.file = CriLogWriter.openFile(this.path);
      await this.file;
    });
  }

  close(): Promise<void> {
    return this.enqueue(async () => {
      const file = await this.file.catch(() => undefined);
      await file?.close();
    });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
