import { readFile } from 'node:fs/promises';
import { waitUntil } from './wait-until';

const POLL_MS = 100;

/** Whether `pid` has a handler for `signal` (SigCgt in its status); false for a process that is gone. */
export async function catchesSignal(pid: number, signal: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & (1n << BigInt(signal - 1))) !== 0n;
}

/**
 * A PID namespace's init receives only the signals it has a handler for, and the kernel decides
 * when the signal is sent. A program that has only just started may not have set its handler
 * yet: its stop signal is lost and the stop waits for its SIGKILL. Called right after `signal`
 * was sent: when `pid` has no handler for it even now, it is sent again (by `resend`) once a
 * handler appears, as long as `running` holds, for up to `windowMs`.
 */
export async function resendWhenCaught(pid: number, signal: number, running: () => Promise<boolean>, resend: () => Promise<void>, windowMs: number): Promise<void> {
  if (await catchesSignal(pid, signal)) return;
  const caught = await waitUntil(async () => !(await running()) || (await catchesSignal(pid, signal)), windowMs, POLL_MS);
  if (caught && (await running())) await resend();
}
