import { setTimeout as sleep } from 'node:timers/promises';
import type { PodSandboxConfig } from '../proto/gen/cri-api-v1';
import type { CriCalls } from './cri-calls';
import { runPool } from './pool';
import type { ChurnObjects } from './live-objects';
import { timed, type Timings } from './timings';

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

/**
 * How long a churn's container runs between its verbose status and its stop (untimed), so the
 * reader meets it running: without it a container is running for a few ms between two calls,
 * and the reader, taking a dozen calls in turn, rarely lands a container call in that window.
 */
export const CHURN_RUNNING_MS = 1000;

/** critest's timings of the container and pod benchmarks that the verbs alone do not show. */
export const POD_STATUS_AFTER_RUN = 'PodSandboxStatus verbose, after run';
export const CREATE_WITH_IMAGE_STATUS = 'ImageStatus + CreateContainer';
export const CONTAINER_STATUS_AFTER_START = 'ContainerStatus verbose, after start';
/** How long until a container runs once its pod is there: issue 19 sets this against containerd's. */
export const CREATE_AND_START = 'ImageStatus + CreateContainer + StartContainer';

export interface LifecycleOptions {
  pods: number;
  parallel: number;
  image: string;
  /** Pod names are `${prefix}-${index}`, unique across the run. */
  prefix: string;
  signal: AbortSignal;
  /** Where a reader finds the pods and containers while they run; none without a reader. */
  live?: ChurnObjects;
}

/**
 * One pod's whole life as the kubelet drives it and critest's pod and container benchmarks time
 * it, each call timed: RunPodSandbox and a verbose PodSandboxStatus; ImageStatus before
 * CreateContainer (critest times them as one), StartContainer, a verbose ContainerStatus,
 * StopContainer, RemoveContainer; StopPodSandbox, RemovePodSandbox. The pod lifecycle (critest's
 * pod benchmark: Run, Status, Stop, Remove) and the container lifecycle (its container
 * benchmark: ImageStatus + Create, Start, Status, Stop, Remove) are recorded per pod, so their
 * medians are medians of real lifecycles rather than sums of per-verb medians. With `live`, the
 * pod is readable from its start to its stop, the container from its start to its stop, and the
 * container runs CHURN_RUNNING_MS before it is stopped.
 */
export async function podLifecycle(cri: CriCalls, timings: Timings, name: string, image: string, live?: ChurnObjects): Promise<void> {
  const config = cri.podConfig(name);
  const run = await timings.measure('RunPodSandbox', () => cri.runPod(config));
  const podId = run.value;
  live?.pod.add(podId);
  const podStatus = await timings.measure(POD_STATUS_AFTER_RUN, () => cri.podStatus(podId, true));
  const imageStatus = await timed(() => cri.imageStatus(image));
  const create = await timings.measure('CreateContainer', () => cri.createContainer(podId, config, 'main', image, GRACEFUL_COMMAND));
  timings.record(CREATE_WITH_IMAGE_STATUS, imageStatus.ms + create.ms);
  const containerId = create.value;
  const start = await timings.measure('StartContainer', () => cri.startContainer(containerId));
  timings.record(CREATE_AND_START, imageStatus.ms + create.ms + start.ms);
  live?.container.add(containerId);
  const status = await timings.measure(CONTAINER_STATUS_AFTER_START, () => cri.containerStatus(containerId, true));
  if (live !== undefined) {
    await sleep(CHURN_RUNNING_MS);
    await live.container.withdraw(containerId);
  }
  const stop = await timings.measure('StopContainer', () => cri.stopContainer(containerId, STOP_TIMEOUT_SECONDS));
  const remove = await timings.measure('RemoveContainer', () => cri.removeContainer(containerId));
  await live?.pod.withdraw(podId);
  const stopPod = await timings.measure('StopPodSandbox', () => cri.stopPod(podId));
  const removePod = await timings.measure('RemovePodSandbox', () => cri.removePod(podId));
  timings.record(POD_LIFECYCLE, run.ms + podStatus.ms + stopPod.ms + removePod.ms);
  timings.record(CONTAINER_LIFECYCLE, imageStatus.ms + create.ms + start.ms + status.ms + stop.ms + remove.ms);
}

/** `pods` lifecycles, `parallel` at a time. */
export function runLifecycles(cri: CriCalls, timings: Timings, options: LifecycleOptions): Promise<void> {
  return runPool(options.pods, options.parallel, options.signal, (index) => podLifecycle(cri, timings, `${options.prefix}-${index}`, options.image, options.live));
}
