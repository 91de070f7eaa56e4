import type { CriCalls } from './cri-calls';
import { startPods, type PopulationOptions } from './population';
import { runPool } from './pool';
import { removeAllPods } from './sweep';
import type { Timings } from './timings';

/** Running pods (one container each) while the status and list loops run. */
export const LOOP_PODS = 10;
/**
 * Untimed calls before each loop's timed ones, on both runtimes alike: the kubelet calls these
 * verbs all the time, so what it meets is a warm daemon, not code V8 has yet to compile.
 */
export const WARMUP_CALLS = 200;

export interface LoopOptions extends PopulationOptions {
  iterations: number;
  /** Pulled and removed again each time, so every pull fetches and unpacks every layer. */
  pullTarget: string;
  pulls: number;
}

/** Calls `call` WARMUP_CALLS times untimed, then `iterations` times timed under `label`, `parallel` at a time. */
export async function timedLoop(
  timings: Timings,
  label: string,
  call: (index: number) => Promise<unknown>,
  options: Pick<LoopOptions, 'iterations' | 'parallel' | 'signal'>,
): Promise<void> {
  await runPool(WARMUP_CALLS, options.parallel, options.signal, (index) => call(index).then(() => undefined));
  await runPool(options.iterations, options.parallel, options.signal, async (index) => {
    await timings.measure(label, () => call(index));
  });
}

/**
 * The read-mostly verbs, each called `iterations` times `parallel` at a time after WARMUP_CALLS
 * untimed ones, plus PullImage and RemoveImage of an image no other image shares a layer with,
 * one pull at a time (parallel pulls of one reference would share one download) after one
 * untimed pull.
 */
export async function runLoops(cri: CriCalls, timings: Timings, options: LoopOptions): Promise<void> {
  const repeat = (label: string, call: (index: number) => Promise<unknown>): Promise<void> => timedLoop(timings, label, call, options);

  await cri.pullImage(options.pullTarget);
  await cri.removeImage(options.pullTarget);
  await runPool(options.pulls, 1, options.signal, async () => {
    await timings.measure('PullImage', () => cri.pullImage(options.pullTarget));
    await timings.measure('RemoveImage', () => cri.removeImage(options.pullTarget));
  });
  await repeat('ImageStatus', () => cri.imageStatus(options.image));
  await repeat('ListImages', () => cri.listImages());

  const pods = await startPods(cri, LOOP_PODS, 'loop', options);
  const containers = pods.flatMap((pod) => pod.containers);
  await repeat('ContainerStatus', (index) => cri.containerStatus(containers[index % containers.length]));
  await repeat('ListContainers', () => cri.listContainers());
  await repeat('ListPodSandbox', () => cri.listPods());
  await removeAllPods(cri, options.parallel);
}
