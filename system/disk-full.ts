import { statfs } from 'node:fs/promises';
import { errorCode } from './error-code';
import { InternalError, PodvisorError, ResourceExhaustedError, errorMessage } from './errors';

// A full filesystem, or a quota met on it: no fault of the request nor of ours, and a retry
// succeeds once space is freed.
const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);
// Less room than this left is a full disk to all but the smallest writes.
const NEARLY_FULL_BYTES = 1024 * 1024;

export function isDiskFull(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && NO_SPACE_CODES.has(code);
}

/**
 * The ResourceExhausted error for `error` when it is a full disk or quota, naming what was being
 * written (the system error names the file); undefined for any other error.
 */
export function diskFullError(error: unknown, what: string): ResourceExhaustedError | undefined {
  return isDiskFull(error) ? new ResourceExhaustedError(`no space left for ${what}: ${errorMessage(error)}`) : undefined;
}

/** Runs `write`; a full disk or quota on the way rejects as ResourceExhausted naming `what`. */
export async function writing<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw diskFullError(error, what) ?? error;
  }
}

/** Whether the filesystem holding `path` is full: next to no space or no inode left for us. */
async function isFilesystemFull(path: string): Promise<boolean> {
  const stats = await statfs(path).catch(() => undefined);
  return stats !== undefined && (stats.bavail * stats.bsize < NEARLY_FULL_BYTES || (stats.files > 0 && stats.ffree === 0));
}

/**
 * For a failure another program reported (runc, mount, a guest agent), which carries no errno:
 * ResourceExhausted when one of `paths` is on a full filesystem, since that is most likely what
 * it met. Errors of ours that say what went wrong (anything but Internal) stay as they are.
 */
export async function failureOnFullDisk(error: unknown, what: string, paths: string[]): Promise<unknown> {
  if (error instanceof PodvisorError && !(error instanceof InternalError)) return error;
  for (const path of paths) {
    if (await isFilesystemFull(path)) return new ResourceExhaustedError(`${what} failed with the filesystem of ${path} full: ${errorMessage(error)}`);
  }
  return error;
}
