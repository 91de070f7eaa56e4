import type { CriCalls } from './cri-calls';
import { timedLoop } from './loops';
import { startPods, type PopulationOptions } from './population';
import { errorMessage } from '../system/errors';
import { readCalls, type ReadCall, type ReadTarget } from './read-calls';
import { removeAllPods } from './sweep';
import type { Timings } from './timings';

/** Running pods (one container each) while the idle reads run. */
export const LOOP_PODS = 10;

export interface IdleReadOptions extends PopulationOptions {
  iterations: number;
}

/**
 * Every read call, each `iterations` times `parallel` at a time after WARMUP_CALLS untimed ones,
 * with LOOP_PODS pods running and nothing else going on; a call that names a pod or a container
 * takes theirs in turn. A call whose first, untimed try fails is not one this runtime answers
 * here (containerd 1.6's PodSandboxStats wants a cgroup parent, which the bench's pods do not
 * name): `skipped` hears why, and it is left out. Answers the calls that were timed.
 */
export async function runIdleReads(cri: CriCalls, timings: Timings, options: IdleReadOptions, skipped: (label: string, why: string) => void): Promise<ReadCall[]> {
  const pods = await startPods(cri, LOOP_PODS, 'loop', options);
  const ids: Record<ReadTarget, string[]> = { pod: pods.map((pod) => pod.id), container: pods.flatMap((pod) => pod.containers) };
  const answered: ReadCall[] = [];
  for (const read of readCalls(options.image)) {
    const targets = read.target === undefined ? [''] : ids[read.target];
    const call = (index: number): Promise<unknown> => read.call(cri, targets[index % targets.length]);
    try {
      await call(0);
    } catch (error) {
      skipped(read.label, errorMessage(error));
      continue;
    }
    await timedLoop(timings, read.label, call, options);
    answered.push(read);
  }
  await removeAllPods(cri, options.parallel);
  return answered;
}
