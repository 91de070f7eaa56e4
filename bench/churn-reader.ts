import type { CriCalls } from './cri-calls';
import type { ChurnObjects } from './live-objects';
import type { ReadCall } from './read-calls';
import type { Timings } from './timings';

/**
 * Until `stop` aborts, one call at a time, every read call in turn, timed: the kubelet reading on
 * while pods come and go. A call that names a pod or a container reads the churn's live ones in
 * turn, and is passed over while there is none (the list calls always wait on the daemon, so
 * the loop never spins without yielding). A call that fails is not timed: `failed` hears of it
 * and the reader goes on, as the kubelet does (containerd's ListContainerStats fails now and
 * then when a container goes while it collects).
 */
export async function readInTurn(cri: CriCalls, timings: Timings, calls: ReadCall[], live: ChurnObjects, stop: AbortSignal, failed: (label: string, error: unknown) => void): Promise<void> {
  while (!stop.aborted) {
    for (const read of calls) {
      if (stop.aborted) return;
      const timedRead = (id: string): Promise<unknown> => timings.measure(read.label, () => read.call(cri, id)).catch((error: unknown) => failed(read.label, error));
      if (read.target === undefined) await timedRead('');
      else await live[read.target].read(timedRead);
    }
  }
}
