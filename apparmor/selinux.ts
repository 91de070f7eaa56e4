import { readFile } from 'node:fs/promises';
import { runToolChecked } from '../system/run-tool';

// selinuxfs: present and holding an `enforce` switch only where a policy is loaded.
const SELINUX_ENFORCE = '/sys/fs/selinux/enforce';
// Relabelling a large volume walks every file; give it time, but not for ever.
const RELABEL_TIMEOUT_MS = 120_000;

/** Whether SELinux runs on this host (enforcing or permissive). */
export async function selinuxEnabled(enforceFile: string = SELINUX_ENFORCE): Promise<boolean> {
  const mode = await readFile(enforceFile, 'utf8').catch(() => '');
  return mode.trim() === '0' || mode.trim() === '1';
}

/** Gives a bind mount's host files the container's label, so the confined process may use them. */
export async function relabel(path: string, label: string): Promise<void> {
  await runToolChecked('chcon', ['-R', label, path], { timeoutMs: RELABEL_TIMEOUT_MS });
}
