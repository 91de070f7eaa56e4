import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../system/errors';
import { criClient } from '../testbed/cri-client';
import type { DaemonProcess } from '../testbed/daemon-process';
import type { BenchImages } from './bench-images';
import { benchNetwork, type BenchNetwork } from './cni-network';
import { removeContainerdLeftovers, startContainerd } from './containerd';
import { CriCalls } from './cri-calls';
import { Figures } from './figures';
import { churnWithReader } from './churn';
import { runIdleReads } from './idle-reads';
import { podLifecycle } from './lifecycle';
import { runPulls } from './loops';
import type { BenchOptions } from './options';
import { startPodvisord } from './podvisord';
import type { RuntimeResult } from './report';
import type { ReadPhase } from './read-calls';
import type { RuntimeName, RuntimeUnderTest } from './runtime';
import { DAEMON_RSS_IDLE, daemonRssMib, measureScale } from './scale';
import { removeAllPods } from './sweep';
import { removeRuntimeTraces } from './teardown';
import { Timings } from './timings';

// Distinct from each other, from the network floor's and the VM session's, and from the default
// 10.88.0.0/16 and the tests' 10.219.x.0/24.
const SUBNETS: Record<RuntimeName, string> = { podvisor: '10.240.0.0/16', containerd: '10.241.0.0/16' };
const BRIDGE_PREFIXES: Record<RuntimeName, string> = { podvisor: 'pvb', containerd: 'ctb' };

function start(name: RuntimeName, images: BenchImages, network: BenchNetwork, options: BenchOptions, onDir: (dir: string) => void): Promise<RuntimeUnderTest> {
  return name === 'podvisor' ? startPodvisord(images.registry.host, network, onDir, { cpuProfileDir: options.cpuProfileDir }) : startContainerd(images.registry.host, images.pause, network, onDir);
}

/** Where the pods of a session's runtime write their logs (CriCalls' log directory). */
export function podLogDirectory(runtime: RuntimeUnderTest): string {
  return join(runtime.dir, 'logs');
}

/** How a session starts its runtime: which one, on which network, and how (`onDir` as for startPodvisord). */
export interface SessionRuntime {
  name: RuntimeName;
  network: BenchNetwork;
  start(onDir: (dir: string) => void): Promise<RuntimeUnderTest>;
}

/** What one runtime's rounds add their measurements to. */
export interface RuntimeRecorder {
  timings: Timings;
  /** The read calls, apart from the rest: each is timed idle and under churn. */
  reads: Record<ReadPhase, Timings>;
  figures: Figures;
  version: string;
}

export function runtimeRecorder(): RuntimeRecorder {
  return { timings: new Timings(), reads: { idle: new Timings(), churn: new Timings() }, figures: new Figures(), version: '' };
}

export function runtimeResult(name: RuntimeName, recorder: RuntimeRecorder): RuntimeResult {
  const reads = { idle: recorder.reads.idle.summaries(), churn: recorder.reads.churn.summaries() };
  return { name, version: recorder.version, latencies: recorder.timings.summaries(), reads, figures: recorder.figures.list() };
}

/** One round's measurements of one runtime; `progress` hears each phase as it starts. */
async function measure(runtime: RuntimeUnderTest, cri: CriCalls, images: BenchImages, options: BenchOptions, signal: AbortSignal, progress: (message: string) => void, recorder: RuntimeRecorder): Promise<void> {
  const version = await cri.version();
  recorder.version = `${version.runtimeName} ${version.runtimeVersion}`;
  const daemonPid = runtime.daemon.child.pid ?? 0;
  const { timings, figures, reads } = recorder;
  const population = { parallel: options.parallel, image: images.busybox, signal };

  // The kubelet pulls the sandbox image ahead of time; so does the bench, for a fair first pod.
  await cri.pullImage(images.busybox);
  if (runtime.name === 'containerd') await cri.pullImage(images.pause);
  figures.add(DAEMON_RSS_IDLE, 'MiB', await daemonRssMib(daemonPid));
  // One untimed lifecycle first: the bridge, caches and lazy code paths are made here.
  await podLifecycle(cri, new Timings(), 'warmup', images.busybox);

  progress(`${options.pulls} pulls, then the read calls idle (${options.loops} calls each)`);
  await runPulls(cri, timings, { pullTarget: images.pullTarget, pulls: options.pulls, signal });
  const answered = await runIdleReads(cri, reads.idle, timings, { ...population, iterations: options.loops }, (label, why) => progress(`${label} left out: ${why}`));
  progress(`${options.pods} pod lifecycles, ${options.parallel} at a time, the read calls in turn beside them`);
  let readFailures = 0;
  const readFailed = (label: string, error: unknown): void => {
    if (readFailures++ === 0) progress(`a read failed under churn (the first; the rest are counted): ${label}: ${errorMessage(error)}`);
  };
  await churnWithReader(cri, timings, reads.churn, answered, { pods: options.pods, parallel: options.parallel, image: images.busybox, prefix: 'life', signal }, readFailed);
  figures.add(READS_FAILED_UNDER_CHURN, '', readFailures);
  if (options.scale) {
    progress(`scale: ${options.scalePods} pods, then ${options.scaleContainers} containers`);
    const scale = { ...population, pods: options.scalePods, containers: options.scaleContainers, idleSeconds: options.idleSeconds, iterations: options.loops };
    await measureScale(cri, { daemonPid, marker: runtime.dir }, timings, figures, scale);
  }
}

/** Reads under churn that failed (not timed): the kubelet meets these too. */
export const READS_FAILED_UNDER_CHURN = 'read calls failed under churn';

const LOG_TAIL_LINES = 40;

function hasExited(daemon: DaemonProcess): boolean {
  return daemon.child.exitCode !== null || daemon.child.signalCode !== null;
}

/** A failure, with the end of the daemon's log when the daemon died: that is usually the cause. */
function explained(error: unknown, runtime: RuntimeUnderTest | undefined): unknown {
  if (runtime === undefined || !hasExited(runtime.daemon)) return error;
  const { exitCode, signalCode } = runtime.daemon.child;
  const tail = runtime.daemon.log.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  return new Error(`${errorMessage(error)}\n${runtime.name} exited (${signalCode ?? `code ${exitCode}`}); the end of its log:\n${tail}`);
}

async function removePodsThrough(socket: string, parallel: number): Promise<void> {
  const client = criClient(socket);
  try {
    await removeAllPods(new CriCalls(client, ''), parallel);
  } finally {
    client.close();
  }
}

/**
 * Removes the runtime's pods through its own CRI, so it undoes what it did (netns, CNI leases,
 * cgroups, mounts). A daemon that died is started again on its directory to do that; answers
 * the daemon that is left to stop.
 */
async function removePods(runtime: RuntimeUnderTest, parallel: number, progress: (message: string) => void): Promise<DaemonProcess> {
  try {
    await removePodsThrough(runtime.socket, parallel);
    return runtime.daemon;
  } catch (error) {
    if (!hasExited(runtime.daemon)) throw error;
    progress(`the daemon is gone; starting it again to remove its pods`);
    const daemon = await runtime.relaunch();
    await removePodsThrough(runtime.socket, parallel);
    return daemon;
  }
}

async function cleanUp(name: RuntimeName, runtime: RuntimeUnderTest | undefined, dir: string | undefined, network: BenchNetwork, parallel: number, progress: (message: string) => void): Promise<void> {
  let daemon = runtime?.daemon;
  if (runtime) daemon = await removePods(runtime, parallel, progress);
  if (dir !== undefined) await removeRuntimeTraces(dir, network, daemon);
  if (name === 'containerd') await removeContainerdLeftovers();
}

/**
 * Starts one runtime, hands it and a CRI client on it to `use`, answers what `use` answers, and
 * removes everything it made, whether `use` succeeded, failed or was aborted. A failure to
 * clean up is reported, and does not hide the failure that came before it.
 */
export async function withRuntime<T>(
  session: SessionRuntime,
  parallel: number,
  progress: (message: string) => void,
  use: (runtime: RuntimeUnderTest, cri: CriCalls) => Promise<T>,
): Promise<T> {
  let dir: string | undefined;
  let runtime: RuntimeUnderTest | undefined;
  let failed = false;
  try {
    progress('starting');
    runtime = await session.start((made) => (dir = made));
    await mkdir(podLogDirectory(runtime), { recursive: true });
    const client = criClient(runtime.socket);
    try {
      return await use(runtime, new CriCalls(client, podLogDirectory(runtime)));
    } finally {
      client.close();
    }
  } catch (error) {
    failed = true;
    throw explained(error, runtime);
  } finally {
    progress('cleaning up');
    try {
      await cleanUp(session.name, runtime, dir, session.network, parallel, progress);
    } catch (error) {
      if (!failed) throw error;
      progress(`cleaning up failed too: ${errorMessage(error)}`);
    }
  }
}

/** One round of one runtime: started, measured into `recorder`, and removed again. */
export function runSession(name: RuntimeName, images: BenchImages, options: BenchOptions, signal: AbortSignal, progress: (message: string) => void, recorder: RuntimeRecorder): Promise<void> {
  const network = benchNetwork(name, BRIDGE_PREFIXES[name], SUBNETS[name]);
  const session = { name, network, start: (onDir: (dir: string) => void) => start(name, images, network, options, onDir) };
  return withRuntime(session, options.parallel, progress, (runtime, cri) => measure(runtime, cri, images, options, signal, progress, recorder));
}
