import type { CriCalls } from './cri-calls';
import { timedCalls, timedLoop } from './loops';
import { runPool } from './pool';
import { startPods, type PopulationOptions } from './population';
import { errorMessage } from '../system/errors';
import { readCalls, type ReadCall, type ReadTarget } from './read-calls';
import { removeAllPods } from './sweep';
import type { Timings } from './timings';

/** Running pods (one container each) while the idle reads run. */
export const LOOP_PODS = 10;
/**
 * A daemon that has just started answers its first thousands of calls slower than it will for
 * the rest of its life: a JIT (podvisord's V8) compiles its hot paths as they run, which
 * containerd, compiled ahead of time, need not. The kubelet polls all the time, so the reads are
 * timed once every read call has had this many untimed calls in turn (or WARM_LAP_MS of them).
 */
export const WARM_LAP_CALLS = 1000;
/** A read call slower than this many calls allow is warmed for at most this long. */
export const WARM_LAP_MS = 2000;
/** How many of the daemon's first status calls FIRST_CALLS times, with no warm-up at all. */
const FIRST_CALL_COUNT = 100;
/** What a kubelet meets right after the daemon starts: timed apart, so the warm-up hides nothing. */
export const FIRST_CALLS = `ContainerStatus, first ${FIRST_CALL_COUNT} after the pods start`;

export interface IdleReadOptions extends PopulationOptions {
  iterations: number;
}

/**
 * Calls `call` untimed, `parallel` at a time, `lap.calls` times or for `lap.ms`, whichever ends
 * first; a call that fails, or `signal`, ends it with that failure.
 */
export async function warm(call: (index: number) => Promise<unknown>, options: { parallel: number; signal: AbortSignal }, lap = { calls: WARM_LAP_CALLS, ms: WARM_LAP_MS }): Promise<void> {
  const deadline = AbortSignal.any([options.signal, AbortSignal.timeout(lap.ms)]);
  await runPool(lap.calls, options.parallel, deadline, (index) => call(index).then(() => undefined)).catch((error: unknown) => {
    if (error !== deadline.reason || options.signal.aborted) throw error;
  });
}

/**
 * Every read call, each `iterations` times `parallel` at a time, with LOOP_PODS pods running
 * and nothing else going on; a call that names a pod or a container takes theirs in turn. The
 * first FIRST_CALL_COUNT ContainerStatus calls go to `firstCalls`; then every call is warmed
 * (WARM_LAP_CALLS) before any is timed into `timings`, each after its own WARMUP_CALLS as every
 * loop is. A call whose first, untimed try fails is not one this runtime answers here
 * (containerd 1.6's PodSandboxStats wants a cgroup parent, which the bench's pods do not name):
 * `skipped` hears why, and it is left out. Answers the calls that were timed.
 */
export async function runIdleReads(cri: CriCalls, timings: Timings, firstCalls: Timings, options: IdleReadOptions, skipped: (label: string, why: string) => void): Promise<ReadCall[]> {
  const pods = await startPods(cri, LOOP_PODS, 'loop', options);
  const ids: Record<ReadTarget, string[]> = { pod: pods.map((pod) => pod.id), container: pods.flatMap((pod) => pod.containers) };
  const caller = (read: ReadCall) => {
    const targets = read.target === undefined ? [''] : ids[read.target];
    return (index: number): Promise<unknown> => read.call(cri, targets[index % targets.length]);
  };
  const reads = readCalls(options.image);
  // readCalls begins with ContainerStatus.
  await timedCalls(firstCalls, FIRST_CALLS, caller(reads[0]), { ...options, iterations: FIRST_CALL_COUNT });
  const answered: ReadCall[] = [];
  for (const read of reads) {
    try {
      await caller(read)(0);
      answered.push(read);
    } catch (error) {
      skipped(read.label, errorMessage(error));
    }
  }
  for (const read of answered) await warm(caller(read), options);
  for (const read of answered) await timedLoop(timings, read.label, caller(read), options);
  await removeAllPods(cri, options.parallel);
  return answered;
}
