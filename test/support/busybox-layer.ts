import { copyFile, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';

const APPLETS = ['sh', 'echo', 'sleep', 'cat', 'ls', 'true', 'false'];

/** Fills `dir` with a one-binary userland: /bin/busybox and its applets as symlinks. */
export async function makeBusyboxLayer(dir: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(dir, 'bin', 'busybox'));
  for (const applet of APPLETS) await symlink('busybox', join(dir, 'bin', applet));
  for (const mountPoint of ['proc', 'dev', 'sys', 'tmp']) await mkdir(join(dir, mountPoint), { recursive: true });
}
