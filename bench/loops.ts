import type { CriCalls } from './cri-calls';
import { runPool } from './pool';
import type { Timings } from './timings';

/**
 * Untimed calls before each loop's timed ones, on both runtimes alike: the kubelet calls these
 * verbs all the time, so what it meets is a warm daemon, not code V8 has yet to compile.
 */
export const WARMUP_CALLS = 200;
/** critest's image benchmark times this between PullImage and RemoveImage. */
export const IMAGE_STATUS_AFTER_PULL = 'ImageStatus, just pulled';

export interface LoopOptions {
  iterations: number;
  parallel: number;
  signal: AbortSignal;
}

export interface PullOptions {
  /** Pulled and removed again each time, so every pull fetches and unpacks every layer. */
  pullTarget: string;
  pulls: number;
  signal: AbortSignal;
}

/** Calls `call` `iterations` times timed under `label`, `parallel` at a time, with no warm-up. */
export async function timedCalls(timings: Timings, label: string, call: (index: number) => Promise<unknown>, options: LoopOptions): Promise<void> {
  await runPool(options.iterations, options.parallel, options.signal, async (index) => {
    await timings.measure(label, () => call(index));
  });
}

/** Calls `call` WARMUP_CALLS times untimed, then as timedCalls does. */
export async function timedLoop(timings: Timings, label: string, call: (index: number) => Promise<unknown>, options: LoopOptions): Promise<void> {
  await runPool(WARMUP_CALLS, options.parallel, options.signal, (index) => call(index).then(() => undefined));
  await timedCalls(timings, label, call, options);
}

/**
 * critest's image benchmark: PullImage, ImageStatus and RemoveImage of an image no other image
 * shares a layer with, `pulls` times, one pull at a time (parallel pulls of one reference would
 * share one download), after one untimed pull.
 */
export async function runPulls(cri: CriCalls, timings: Timings, options: PullOptions): Promise<void> {
  await cri.pullImage(options.pullTarget);
  await cri.removeImage(options.pullTarget);
  await runPool(options.pulls, 1, options.signal, async () => {
    await timings.measure('PullImage', () => cri.pullImage(options.pullTarget));
    await timings.measure(IMAGE_STATUS_AFTER_PULL, () => cri.imageStatus(options.pullTarget));
    await timings.measure('RemoveImage', () => cri.removeImage(options.pullTarget));
  });
}
