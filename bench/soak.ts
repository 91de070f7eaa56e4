import { setTimeout as sleep } from 'node:timers/promises';
import { auditNetwork, hostAudit } from '../test/support/host-audit';
import { criClient } from '../testbed/cri-client';
import { dirsIn } from '../testbed/daemon-process';
import type { BenchImages } from './bench-images';
import { CallLog, type ChurnSource } from './call-log';
import { benchNetwork } from './cni-network';
import { CriCalls } from './cri-calls';
import { readDaemonFootprint } from './daemon-footprint';
import { heapAfterGc, inspectorAddress } from './daemon-heap';
import type { BenchOptions } from './options';
import { startPodvisord } from './podvisord';
import type { RuntimeUnderTest } from './runtime';
import { podLogDirectory, withRuntime } from './session';
import { churn, type ChurnOptions } from './soak-churn';
import { runPollers } from './soak-pollers';
import { clock } from './soak-report';
import { END_CHECKPOINT, HALF_CHECKPOINT, QUIET_MS, START_CHECKPOINT, WARM_CHECKPOINT, type Checkpoint, type FootprintSample, type SoakResult } from './soak-summary';

// Beside the runtimes' 10.240 and 10.241, the network floor's 10.242 and the VM pods' 10.243.
const SOAK_SUBNET = '10.244.0.0/16';
const INSPECTOR_CLOSE_MS = 1000;
/** How often the daemon's footprint is read while the soak runs. */
const SAMPLE_MS = 10_000;
/** The default configuration's handlers: each source churns pods of the handler of its name. */
const HANDLERS: Record<ChurnSource, string> = { runc: 'runc', vm: 'vm' };

interface SoakRun {
  runtime: RuntimeUnderTest;
  log: CallLog;
  image: string;
  options: BenchOptions;
  made: ChurnOptions['made'];
}

/** Every churn client for `ms` (or until `signal`), each on a connection of its own (closed at the end, as a client that goes away would). */
async function churnFor(run: SoakRun, ms: number, phase: number, signal: AbortSignal): Promise<void> {
  // A timer of its own: node 20 may collect AbortSignal.timeout's signal inside AbortSignal.any before it fires.
  const stopping = new AbortController();
  const stop = (): void => stopping.abort();
  const timer = setTimeout(stop, ms);
  signal.addEventListener('abort', stop, { once: true });
  try {
    await churnClients(run, phase, stopping.signal);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', stop);
  }
  signal.throwIfAborted();
}

async function churnClients(run: SoakRun, phase: number, stop: AbortSignal): Promise<void> {
  await Promise.all(
    Array.from({ length: run.options.clients }, async (_unused, index) => {
      const source: ChurnSource = index < run.options.vmClients ? 'vm' : 'runc';
      const client = criClient(run.runtime.socket);
      try {
        const cri = new CriCalls(client, podLogDirectory(run.runtime), run.log.observer(source));
        await churn(cri, { source, handler: HANDLERS[source], name: `soak${phase}-${source}${index}`, image: run.image, stop, log: run.log, made: run.made });
      } finally {
        client.close();
      }
    }),
  );
}

/**
 * The soak on a started podvisord: its idle footprint first; then the pollers and a footprint
 * reading every SAMPLE_MS throughout, and the churn in three phases (a warm-up of one window
 * at most, then the rest in two halves), each followed by a quiet checkpoint with no pod left;
 * last what the daemon still lists and what it left on the host.
 */
async function soak(runtime: RuntimeUnderTest, cri: CriCalls, images: BenchImages, options: BenchOptions, signal: AbortSignal, progress: (message: string) => void): Promise<SoakResult> {
  await cri.pullImage(images.busybox);
  const daemonPid = runtime.daemon.child.pid ?? 0;
  const log = new CallLog();
  const footprint = () => readDaemonFootprint(daemonPid, runtime.dir);
  const inspector = inspectorAddress(runtime.daemon.log);
  const checkpoint = async (name: string): Promise<Checkpoint> => {
    const heap = await heapAfterGc(inspector);
    // So that the inspector's connection is closed when the descriptors are counted.
    await sleep(INSPECTOR_CLOSE_MS);
    return { name, at: log.now(), heap, footprint: await footprint() };
  };
  const checkpoints = [await checkpoint(START_CHECKPOINT)];
  const samples: FootprintSample[] = [];
  const made = { pods: new Set<string>(), containers: new Set<string>() };
  const run: SoakRun = { runtime, log, image: images.busybox, options, made };

  const warmupMs = Math.min(options.windowMs, options.soakMs / 4);
  const halfMs = (options.soakMs - warmupMs) / 2;
  const phases = [
    { ms: warmupMs, checkpoint: WARM_CHECKPOINT },
    { ms: halfMs, checkpoint: HALF_CHECKPOINT },
    { ms: halfMs, checkpoint: END_CHECKPOINT },
  ];
  const stopPolling = new AbortController();
  const pollClient = criClient(runtime.socket);
  const pollers = runPollers(new CriCalls(pollClient, podLogDirectory(runtime), log.observer('poll')), stopPolling.signal);
  const sampler = (async () => {
    while (!stopPolling.signal.aborted) {
      samples.push({ at: log.now(), footprint: await footprint() });
      await sleep(SAMPLE_MS, undefined, { signal: stopPolling.signal }).catch(() => undefined);
    }
  })();
  try {
    for (const [index, phase] of phases.entries()) {
      progress(`${clock(log.now())}: churning for ${clock(phase.ms)}, then ${QUIET_MS / 1000} s quiet for the "${phase.checkpoint}" checkpoint`);
      await churnFor(run, phase.ms, index, signal);
      await sleep(QUIET_MS, undefined, { signal });
      checkpoints.push(await checkpoint(phase.checkpoint));
    }
  } finally {
    stopPolling.abort();
    await Promise.all([pollers, sampler]);
    pollClient.close();
  }
  const endAt = log.now();
  progress('what the daemon still lists, and what it left on the host');
  const listed = { pods: (await cri.listPods()).length, containers: (await cri.listContainers()).length };
  const dirs = dirsIn(runtime.dir);
  const leftovers = await hostAudit({ dirs, network: await auditNetwork(dirs), podIds: made.pods, containerIds: made.containers, logs: [runtime.daemon.log], ignorePids: [daemonPid] });
  const settings = { durationMs: options.soakMs, warmupMs, windowMs: options.windowMs, runcClients: options.clients - options.vmClients, vmClients: options.vmClients };
  return { settings, records: log.records, samples, checkpoints, endAt, listed, leftovers };
}

/** `npm run bench -- --soak`: one podvisord with its default configuration, soaked (see soak()), and then removed. */
export async function runSoak(images: BenchImages, options: BenchOptions, signal: AbortSignal, say: (message: string) => void): Promise<SoakResult> {
  // The daemon inherits it: grpc-js then says why it could not send an answer (INTERNAL
  // "Error serializing response" alone otherwise), and the report's failures say it too.
  process.env.GRPC_NODE_DEBUG_SEND_ERROR_DETAILS = 'true';
  const network = benchNetwork('soak', 'pvs', SOAK_SUBNET);
  const session = {
    name: 'podvisor' as const,
    network,
    start: (onDir: (dir: string) => void) => startPodvisord(images.registry.host, network, onDir, { cpuProfileDir: options.cpuProfileDir, inspect: true }),
  };
  const progress = (message: string): void => say(`soak: ${message}`);
  return withRuntime(session, options.parallel, progress, (runtime, cri) => soak(runtime, cri, images, options, signal, progress));
}
