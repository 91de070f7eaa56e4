import { readInTurn } from './churn-reader';
import type { CriCalls } from './cri-calls';
import { runLifecycles, type LifecycleOptions } from './lifecycle';
import { churnObjects } from './live-objects';
import type { ReadCall } from './read-calls';
import type { Timings } from './timings';

/**
 * The pod lifecycles (`pods`, `parallel` at a time) with a reader beside them timing each of
 * `calls` in turn on the pods and containers they run: what the kubelet's reads meet on a busy
 * node, and what its lifecycle calls meet beside its reads. Lifecycle calls are timed into
 * `timings`, the reads into `reads`; a read that fails goes to `failed` and the reading goes
 * on.
 */
export async function churnWithReader(cri: CriCalls, timings: Timings, reads: Timings, calls: ReadCall[], options: Omit<LifecycleOptions, 'live'>, failed: (label: string, error: unknown) => void): Promise<void> {
  const live = churnObjects();
  const done = new AbortController();
  const reading = readInTurn(cri, reads, calls, live, AbortSignal.any([done.signal, options.signal]), failed);
  try {
    await runLifecycles(cri, timings, { ...options, live });
  } finally {
    done.abort();
    await reading;
  }
}
