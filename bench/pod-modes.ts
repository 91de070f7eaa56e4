import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'smol-toml';
import type { CriCalls } from './cri-calls';
import { Figures } from './figures';
import { POD_START, timedPodStart } from './lifecycle';
import { podsFootprint, type Footprint } from './pod-footprint';
import { IDLE_COMMAND } from './population';
import type { Measured } from './report';
import { SETTLE_MS } from './scale';
import { quantile } from './stats';
import { Timings } from './timings';
import { waitForWarmCache } from './warm-cache';

/** One way of starting pods the VM bench times: a handler of podvisord's, named as the mode. */
export interface PodMode {
  name: string;
  type: 'oci' | 'vm';
  /** vm: clones of a template VM rather than a boot per pod. */
  template?: boolean;
  /** vm: spare clones the handler keeps ready. */
  warmClones?: number;
}

export const RUNC_MODE: PodMode = { name: 'runc', type: 'oci' };
export const COLD_MODE: PodMode = { name: 'vm-cold', type: 'vm', template: false };
export const TEMPLATE_MODE: PodMode = { name: 'vm-template', type: 'vm', template: true };
export const WARM_MODE: PodMode = { name: 'vm-warm', type: 'vm', template: true, warmClones: 2 };
export const POD_MODES = [RUNC_MODE, COLD_MODE, TEMPLATE_MODE, WARM_MODE];

/** podvisord's config for the VM bench: one handler per mode, the VM ones otherwise as configured by default. */
export function podModesConfig(modes: readonly PodMode[]): string {
  const table = (mode: PodMode): Record<string, string | number | boolean> =>
    mode.type === 'oci' ? { type: 'oci', runtime_path: '/usr/bin/runc' } : { type: 'vm', template: mode.template ?? true, warm_clones: mode.warmClones ?? 0 };
  return `${stringify({ runtime: { default_handler: RUNC_MODE.name, handlers: Object.fromEntries(modes.map((mode) => [mode.name, table(mode)])) } })}\n`;
}

export const IDLE_PSS = 'PSS per idle pod (median)';

// Spares made from a template take a second or two under TCG, spares booted cold ten or more.
const WARM_CACHE_TIMEOUT_MS = 60_000;

export interface PodStartOptions {
  pods: number;
  image: string;
  /** podvisord's scratch directory, in the command line of each of its VMs. */
  runtimeDir: string;
  signal: AbortSignal;
  progress: (message: string) => void;
}

/**
 * Times RunPodSandbox, CreateContainer and StartContainer (and their sum) of `pods` pods of one
 * mode, one at a time after one untimed pod (which builds a template, probes the accelerator,
 * warms the page cache), each stopped and removed before the next. Each pod's host memory is
 * read a few seconds after its start. A mode with warm clones waits before each pod until the
 * cache is full (see waitForWarmCache); when none ever appears, the daemon keeps no cache and
 * the rest are not waited for.
 */
export async function measurePodStarts(cri: CriCalls, mode: PodMode, options: PodStartOptions): Promise<Measured> {
  const timings = new Timings();
  const figures = new Figures();
  const footprints: Footprint[] = [];
  const want = mode.warmClones ?? 0;
  let waitForCache = want > 0;
  let fullCache = 0;
  for (let index = -1; index < options.pods; index++) {
    options.signal.throwIfAborted();
    const timed = index >= 0;
    if (timed && waitForCache) {
      const cache = await waitForWarmCache(options.runtimeDir, mode.name, want, WARM_CACHE_TIMEOUT_MS, options.signal);
      if (cache.full) fullCache++;
      if (cache.most === 0) {
        options.progress(`no spare VM appeared within ${WARM_CACHE_TIMEOUT_MS / 1000} s: the daemon keeps no warm cache; the rest are not waited for`);
        waitForCache = false;
      }
    }
    const config = cri.podConfig(`${mode.name}-${timed ? index : 'warmup'}`);
    const started = await timedPodStart(cri, timed ? timings : new Timings(), config, options.image, IDLE_COMMAND, mode.name);
    if (timed) {
      timings.record(POD_START, started.ms.run + started.ms.create + started.ms.start);
      await sleep(SETTLE_MS, undefined, { signal: options.signal });
      footprints.push(await podsFootprint(cri, [started.podId]));
    }
    await cri.stopPod(started.podId);
    await cri.removePod(started.podId);
  }
  figures.add(IDLE_PSS, 'MiB', quantile(footprints.map((footprint) => footprint.pssMib), 0.5));
  figures.add("pod's processes on the host", '', quantile(footprints.map((footprint) => footprint.pids.length), 0.5));
  if (want > 0) figures.add('pods timed with a full warm cache', `of ${options.pods}`, fullCache);
  return { name: mode.name, latencies: timings.summaries(), figures: figures.list() };
}
