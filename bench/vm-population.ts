import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuOverWindow } from './cpu-usage';
import type { CriCalls } from './cri-calls';
import type { Figures } from './figures';
import { podsFootprint } from './pod-footprint';
import { startPods, type PopulationOptions, type RunningPod } from './population';
import { runPool } from './pool';
import { GC_QUIET_MS, KIB_PER_MIB, SETTLE_MS } from './scale';
import { removeAllPods } from './sweep';

export const EXEC_ANSWERING = 'exec-sync answering (echo ok)';
export const DAEMON_CPU = 'daemon CPU while they idle';
export const POPULATION_PSS_PER_POD = 'PSS per pod';
const EXEC_TIMEOUT_SECONDS = 30;

export interface VmPopulationOptions extends PopulationOptions {
  pods: number;
  idleSeconds: number;
  daemonPid: number;
}

/** What the host could still hand out without swapping, in MiB (/proc/meminfo's MemAvailable). */
async function memAvailableMib(): Promise<number> {
  const match = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
  if (!match) throw new Error('/proc/meminfo has no MemAvailable');
  return Number(match[1]) / KIB_PER_MIB;
}

/** How many of the pods' containers answer `echo ok` through ExecSync, `parallel` at a time. */
async function answeringExecs(cri: CriCalls, pods: RunningPod[], options: VmPopulationOptions): Promise<number> {
  let answered = 0;
  await runPool(pods.length, options.parallel, options.signal, async (index) => {
    const reply = await cri.execSync(pods[index].containers[0], ['echo', 'ok'], EXEC_TIMEOUT_SECONDS).catch(() => undefined);
    if (reply?.exitCode === 0 && reply.stdout === 'ok\n') answered++;
  });
  return answered;
}

/**
 * `pods` pods of the handler in `options`, started `parallel` at a time: the time that took,
 * the host memory they use (MemAvailable before and a few seconds after, and the PSS of every
 * process in their cgroups), the CPU of the daemon and of those processes while the pods idle
 * (after the same quiet period as --scale), and then an ExecSync into each pod's container.
 */
export async function measureVmPopulation(cri: CriCalls, figures: Figures, options: VmPopulationOptions): Promise<void> {
  const available = await memAvailableMib();
  const started = performance.now();
  const pods = await startPods(cri, options.pods, 'population', options);
  figures.add(`start ${options.pods} pods, ${options.parallel} at a time`, 's', (performance.now() - started) / 1000);
  await sleep(SETTLE_MS, undefined, { signal: options.signal });

  figures.add('host memory used (MemAvailable drop)', 'MiB', available - (await memAvailableMib()));
  const { pids, pssMib } = await podsFootprint(cri, pods.map((pod) => pod.id));
  figures.add("PSS of the pods' processes", 'MiB', pssMib);
  figures.add(POPULATION_PSS_PER_POD, 'MiB', pssMib / options.pods);

  await sleep(GC_QUIET_MS, undefined, { signal: options.signal });
  const [daemonCpu, podsCpu] = await cpuOverWindow([[options.daemonPid], pids], options.idleSeconds * 1000, options.signal);
  figures.add(DAEMON_CPU, '% core', daemonCpu);
  figures.add("the pods' processes' CPU while they idle", '% core', podsCpu);
  figures.add(EXEC_ANSWERING, `of ${options.pods}`, await answeringExecs(cri, pods, options));
  await removeAllPods(cri, options.parallel);
}
