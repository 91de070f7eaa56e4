import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { unmountAll } from '../../system/mount-cleanup';
import { runToolChecked } from '../../system/run-tool';
import type { SharedBind } from './guest-spec';

const MOUNT_TIMEOUT_MS = 30_000;

async function mountPoint(path: string, file: boolean): Promise<void> {
  await mkdir(file ? dirname(path) : path, { recursive: true, mode: 0o700 });
  if (file) await writeFile(path, '', { flag: 'a' });
}

/**
 * Bind-mounts host paths into the pod's shared directory, where the guest sees them. A
 * read-only mount is made read-only on the host side too: nothing from the guest is trusted
 * to honour it.
 */
export async function shareIntoGuest(sharedDir: string, binds: SharedBind[]): Promise<void> {
  for (const bind of binds) {
    const target = join(sharedDir, bind.target);
    await mountPoint(target, bind.file);
    await runToolChecked('mount', ['--rbind', bind.source, target], { timeoutMs: MOUNT_TIMEOUT_MS });
    // Mounts made under the source later must not follow it into the guest, nor ours back out.
    await runToolChecked('mount', ['--make-rslave', target], { timeoutMs: MOUNT_TIMEOUT_MS });
    if (bind.readOnly) await runToolChecked('mount', ['-o', 'remount,bind,ro', target], { timeoutMs: MOUNT_TIMEOUT_MS });
  }
}

/** Unmounts and deletes `name` of the shared directory; one already gone is fine. */
export async function unshareFromGuest(sharedDir: string, name: string): Promise<void> {
  const path = join(sharedDir, name);
  await unmountAll(path, true);
  await rm(path, { recursive: true, force: true });
}
