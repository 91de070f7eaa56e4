import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../system/atomic-file';
import type { ContainerExit } from '../runtime-handler';

// How often the exits directory is listed in case the watch missed a file.
const SWEEP_INTERVAL_MS = 5_000;


// conmon writes an exit file as `<id>.XXXXXX` and renames it to `<id>`; only the final name,
// which never holds a dot, is an exit.
function isExitFileName(name: string): boolean {
  return !name.includes('.') && !name.startsWith(TEMP_PREFIX);
}

/**
 * Reads conmon's exit file for `id` in `exitsDir` (named after the container, holding the
 * exit code in decimal). Undefined while there is none, or while conmon is still writing it.
 */
export async function readExitFile(exitsDir: string, id: string): Promise<ContainerExit | undefined> {
  const path = join(exitsDir, id);
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    if (!/^-?\d+\s*$/.test(text)) return undefined;
    return { id, exitCode: Number.parseInt(text, 10), at: info.mtime };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Every exit recorded in `exitsDir`, e.g. of containers that ended while podvisord was down. */
export async function listExitFiles(exitsDir: string): Promise<ContainerExit[]> {
  const exits: ContainerExit[] = [];
  for (const name of await readdir(exitsDir)) {
    if (!isExitFileName(name)) continue;
    const exit = await readExitFile(exitsDir, name);
    if (exit !== undefined) exits.push(exit);
  }
  return exits;
}

/**
 * Reports each exit file that appears in `exitsDir` once (a rewrite with a new time counts as
 * a new exit). Files present before the call are the caller's to collect with listExitFiles.
 * Makes the directory if need be. Returns the function that stops watching.
 */
export function watchExitFiles(exitsDir: string, onExit: (exit: ContainerExit) => void, onError: (error: unknown) => void): () => void {
  const reported = new Map<string, number>();
  let primed = false;
  let stopped = false;
  let watcher: FSWatcher | undefined;
  const pendingNames: string[] = [];
  const check = async (name: string): Promise<void> => {
    const exit = await readExitFile(exitsDir, name);
    // A file gone (its container removed) needs remembering no more.
    if (exit === undefined) reported.delete(name);
    if (exit === undefined || reported.get(name) === exit.at.getTime()) return;
    reported.set(name, exit.at.getTime());
    if (!stopped) onExit(exit);
  };
  const checkSafely = (name: string): void => {
    check(name).catch(onError);
  };
  const begin = async (): Promise<void> => {
    await mkdir(exitsDir, { recursive: true });
    if (stopped) return;
    watcher = watch(exitsDir, (_event, name) => {
      if (name === null || !isExitFileName(name)) return;
      if (primed) checkSafely(name);
      else pendingNames.push(name);
    });
    watcher.on('error', onError);
    // Files already there when watching begins are remembered, not reported.
    for (const exit of await listExitFiles(exitsDir)) reported.set(exit.id, exit.at.getTime());
    primed = true;
    // A file that changed while the listing ran may be an exit the listing swallowed.
    for (const name of pendingNames.splice(0)) {
      reported.delete(name);
      checkSafely(name);
    }
  };
  // inotify can drop events (a full queue): a slow look at the directory catches what it missed.
  const sweep = async (): Promise<void> => {
    if (!primed) return;
    for (const name of await readdir(exitsDir)) if (isExitFileName(name) && !reported.has(name)) checkSafely(name);
  };
  const sweeper = setInterval(() => sweep().catch(onError), SWEEP_INTERVAL_MS);
  sweeper.unref();
  begin().catch(onError);
  return () => {
    stopped = true;
    clearInterval(sweeper);
    watcher?.close();
  };
}

/**
 * Resolves with the exit conmon records for `id` as soon as its file lands in `exitsDir`, or
 * with undefined after `timeoutMs` or once `signal` aborts. The directory is watched, so the
 * exit is seen when it is written rather than at the next turn of a polling loop.
 */
export function waitForExitFile(exitsDir: string, id: string, timeoutMs: number, signal?: AbortSignal): Promise<ContainerExit | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let watcher: FSWatcher | undefined;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', onAbort);
      finish();
    };
    const onAbort = (): void => settle(() => resolve(undefined));
    const fail = (error: unknown): void => settle(() => reject(error));
    const check = (): void => {
      readExitFile(exitsDir, id).then((exit) => {
        if (exit !== undefined) settle(() => resolve(exit));
      }, fail);
    };
    const timer = setTimeout(onAbort, timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    try {
      watcher = watch(exitsDir, (_event, name) => {
        if (name === id) check();
      });
      watcher.on('error', fail);
    } catch (error) {
      return fail(error);
    }
    // Watching first, then looking, so a file written in between is not missed.
    check();
  });
}
