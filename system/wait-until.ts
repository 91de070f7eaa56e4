import { setTimeout as sleep } from 'node:timers/promises';

/** Asks `check` every `intervalMs` until it answers true (true) or `timeoutMs` has passed (false). */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
