import { waitUntil } from '../system/wait-until';
import { cpuOverWindow } from './cpu-usage';
import { listProcesses } from './processes';

// A spare VM that is ready sits idle; one still booting or being restored from the template
// keeps a core busy under TCG. Its CPU over a short window tells them apart, whatever way the
// daemon makes its spares.
const IDLE_WINDOW_MS = 1000;
const BUSY_PERCENT_OF_CORE = 20;
const POLL_MS = 500;

/** The QEMU processes of one vm handler of the podvisord whose scratch directory is `runtimeDir`. */
export async function handlerQemuPids(runtimeDir: string, handler: string): Promise<number[]> {
  const all = await listProcesses();
  const ofHandler = all.filter((info) => info.comm.startsWith('qemu-system') && info.cmdline.includes(runtimeDir) && info.cmdline.includes(`/handlers/${handler}/`));
  return ofHandler.map((info) => info.pid);
}

export interface WarmCacheWait {
  /** Whether `want` idle spares were there before the timeout. */
  full: boolean;
  /** The most spares seen at once, idle or not. */
  most: number;
}

/**
 * Waits until the handler keeps `want` VMs ready that no pod has taken: QEMU processes of the
 * handler (in its run directory) each idle over a one-second window, or until `timeoutMs` has
 * passed. It is called while none of the handler's pods runs, so every QEMU of the handler's is
 * a spare then (a template VM kept running would count as one too).
 */
export async function waitForWarmCache(runtimeDir: string, handler: string, want: number, timeoutMs: number, signal: AbortSignal): Promise<WarmCacheWait> {
  let most = 0;
  const full = await waitUntil(
    async () => {
      signal.throwIfAborted();
      const spares = await handlerQemuPids(runtimeDir, handler);
      most = Math.max(most, spares.length);
      if (spares.length < want) return false;
      const usage = await cpuOverWindow(
        spares.map((pid) => [pid]),
        IDLE_WINDOW_MS,
        signal,
      );
      return usage.every((percent) => percent < BUSY_PERCENT_OF_CORE);
    },
    timeoutMs,
    POLL_MS,
  );
  return { full, most };
}
