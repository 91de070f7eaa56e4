import { readFileSync } from 'node:fs';
import { errorCode } from './error-code';
import { errorMessage } from './errors';
import { toolThread } from './tool-thread-client';

/** A file's text, or the code and message of the error reading it met. */
export type KernelFileRead = { text: string } | { code: string; message: string };

/** On the tool thread: reads each file through. */
export function readKernelFilesSync(paths: string[]): KernelFileRead[] {
  return paths.map((path) => {
    try {
      return { text: readFileSync(path, 'utf8') };
    } catch (error) {
      return { code: errorCode(error) ?? '', message: errorMessage(error) };
    }
  });
}

interface Waiter {
  path: string;
  resolve: (text: string) => void;
  reject: (error: Error) => void;
}

// The reads asked for while the current task runs go to the thread as one job: a stats call
// asks for a handful of cgroup files at once, and pays for one message.
let batch: Waiter[] = [];

function sendBatch(): void {
  const waiters = batch;
  batch = [];
  toolThread.run('read', waiters.map((waiter) => waiter.path)).then(
    (reads) =>
      waiters.forEach((waiter, index) => {
        const read = reads[index];
        if ('text' in read) waiter.resolve(read.text);
        else waiter.reject(Object.assign(new Error(read.message), { code: read.code }));
      }),
    (error: Error) => waiters.forEach((waiter) => waiter.reject(error)),
  );
}

/**
 * The text of a file the kernel makes up as it is read (under /proc or /sys/fs/cgroup), read on
 * the tool thread. A failure rejects as fs.readFile's would, with the error's code (ENOENT...).
 */
export function readKernelFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    if (batch.length === 0) queueMicrotask(sendBatch);
    batch.push({ path, resolve, reject });
  });
}
