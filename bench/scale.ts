import { setTimeout as sleep } from 'node:timers/promises';
import { cpuOverWindow } from './cpu-usage';
import type { CriCalls } from './cri-calls';
import type { Figures } from './figures';
import { timedLoop } from './loops';
import { addContainers, startPods, WORKLOAD_EXECUTABLES, type PopulationOptions } from './population';
import { listProcesses, perPodProcesses, pssKib, rssKib, totalPssKib } from './processes';
import { removeAllPods } from './sweep';
import type { Timings } from './timings';

// Lets the daemon finish what starting the pods set off (exit watchers, GC) before the memory
// readings. The memory reducer of V8 then collects about 8 s after allocation stops: ~50 ms of
// podvisord's CPU that landed in a CPU window started at once (1.2 % of a core over 10 s, 0 % in
// the minutes after it), so the CPU window waits for it and reads pods sitting idle.
export const SETTLE_MS = 3000;
export const GC_QUIET_MS = 17_000;
export const KIB_PER_MIB = 1024;
export const DAEMON_RSS_IDLE = 'daemon RSS idle';
/** What the daemon's RSS with the scale pods is labelled with, before the pods' count. */
export const DAEMON_RSS_WITH = 'daemon RSS, ';

export interface ScaleOptions extends PopulationOptions {
  pods: number;
  /** Containers in all at the second list reading; the extra ones are spread over the pods. */
  containers: number;
  idleSeconds: number;
  iterations: number;
}

/** Where the runtime keeps its per-pod processes and which process is its daemon. */
export interface Accounting {
  daemonPid: number;
  marker: string;
}

/** The daemon's resident memory now, in MiB. */
export async function daemonRssMib(daemonPid: number): Promise<number> {
  return (await rssKib(daemonPid)) / KIB_PER_MIB;
}

async function listLatencies(cri: CriCalls, timings: Timings, containers: number, options: ScaleOptions): Promise<void> {
  const population = `(${options.pods} pods, ${containers} containers)`;
  await timedLoop(timings, `ListContainers ${population}`, () => cri.listContainers(), options);
  await timedLoop(timings, `ListPodSandbox ${population}`, () => cri.listPods(), options);
}

/**
 * Memory, CPU and list latency with `pods` pods of one idle container each, then list latency
 * again with `containers` containers in those pods. Host memory per pod counts what the daemon
 * grew by plus every process the runtime keeps per pod (PSS, so shared pages are split fairly
 * among the processes sharing them), and leaves out the containers' own workload.
 */
export async function measureScale(cri: CriCalls, accounting: Accounting, timings: Timings, figures: Figures, options: ScaleOptions): Promise<void> {
  const { daemonPid, marker } = accounting;
  const pssBefore = await pssKib(daemonPid);
  const pods = await startPods(cri, options.pods, 'scale', options);
  await sleep(SETTLE_MS);

  const perPod = perPodProcesses(await listProcesses(), marker, daemonPid, WORKLOAD_EXECUTABLES);
  const perPodPids = perPod.map((info) => info.pid);
  const perPodPss = await totalPssKib(perPodPids);
  const daemonGrowth = (await pssKib(daemonPid)) - pssBefore;
  figures.add(`${DAEMON_RSS_WITH}${options.pods} pods`, 'MiB', await daemonRssMib(daemonPid));
  figures.add('host memory per pod (PSS)', 'MiB', (daemonGrowth + perPodPss) / options.pods / KIB_PER_MIB);
  figures.add('daemon growth per pod (PSS)', 'MiB', daemonGrowth / options.pods / KIB_PER_MIB);
  figures.add('processes kept per pod', '', perPod.length / options.pods);

  await sleep(GC_QUIET_MS, undefined, { signal: options.signal });
  const [daemonCpu, perPodCpu] = await cpuOverWindow([[daemonPid], perPodPids], options.idleSeconds * 1000, options.signal);
  figures.add(`daemon CPU, ${options.pods} idle pods`, '% core', daemonCpu);
  figures.add(`per-pod processes' CPU, ${options.pods} idle pods`, '% core', perPodCpu);

  await listLatencies(cri, timings, options.pods, options);
  await addContainers(cri, pods, options.containers - options.pods, options);
  await listLatencies(cri, timings, options.containers, options);
  await removeAllPods(cri, options.parallel);
}
