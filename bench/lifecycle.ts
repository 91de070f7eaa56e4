import type { PodSandboxConfig } from '../proto/gen/cri-api-v1';
import type { CriCalls } from './cri-calls';
import { runPool } from './pool';
import type { Timings } from './timings';

/** Runs until told to stop, and then stops at once: SIGTERM ends the shell's wait, its trap exits. */
export const GRACEFUL_COMMAND = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];
/** The grace period StopContainer gives; the command above never needs it. */
export const STOP_TIMEOUT_SECONDS = 10;

export const POD_LIFECYCLE = 'pod lifecycle';
export const CONTAINER_LIFECYCLE = 'container lifecycle';
/** RunPodSandbox + CreateContainer + StartContainer of one pod: how long until its container runs. */
export const POD_START = 'Run + Create + Start';

/** A pod just started by timedPodStart, and how long each of its three calls took. */
export interface StartedPod {
  podId: string;
  containerId: string;
  ms: { run: number; create: number; start: number };
}

/** RunPodSandbox, CreateContainer and StartContainer of one container named main, each timed. */
export async function timedPodStart(cri: CriCalls, timings: Timings, config: PodSandboxConfig, image: string, command: string[], handler?: string): Promise<StartedPod> {
  const run = await timings.measure('RunPodSandbox', () => cri.runPod(config, handler));
  const podId = run.value;
  const create = await timings.measure('CreateContainer', () => cri.createContainer(podId, config, 'main', image, command));
  const containerId = create.value;
  const start = await timings.measure('StartContainer', () => cri.startContainer(containerId));
  return { podId, containerId, ms: { run: run.ms, create: create.ms, start: start.ms } };
}

export interface LifecycleOptions {
  pods: number;
  parallel: number;
  image: string;
  /** Pod names are `${prefix}-${index}`, unique across the run. */
  prefix: string;
  signal: AbortSignal;
}

/**
 * One pod's whole life as the kubelet drives it, each call timed: RunPodSandbox, then one
 * container created, started, stopped and removed, then StopPodSandbox and RemovePodSandbox.
 * The pod and container lifecycle totals are recorded per pod, so their medians are medians of
 * real lifecycles rather than sums of per-verb medians.
 */
export async function podLifecycle(cri: CriCalls, timings: Timings, name: string, image: string): Promise<void> {
  const { podId, containerId, ms } = await timedPodStart(cri, timings, cri.podConfig(name), image, GRACEFUL_COMMAND);
  const stop = await timings.measure('StopContainer', () => cri.stopContainer(containerId, STOP_TIMEOUT_SECONDS));
  const remove = await timings.measure('RemoveContainer', () => cri.removeContainer(containerId));
  const stopPod = await timings.measure('StopPodSandbox', () => cri.stopPod(podId));
  const removePod = await timings.measure('RemovePodSandbox', () => cri.removePod(podId));
  timings.record(POD_LIFECYCLE, ms.run + stopPod.ms + removePod.ms);
  timings.record(CONTAINER_LIFECYCLE, ms.create + ms.start + stop.ms + remove.ms);
}

/** `pods` lifecycles, `parallel` at a time. */
export function runLifecycles(cri: CriCalls, timings: Timings, options: LifecycleOptions): Promise<void> {
  return runPool(options.pods, options.parallel, options.signal, (index) => podLifecycle(cri, timings, `${options.prefix}-${index}`, options.image));
}
