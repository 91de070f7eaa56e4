import type { BenchImages } from './bench-images';
import { benchNetwork } from './cni-network';
import { Figures } from './figures';
import type { BenchOptions } from './options';
import { measurePodStarts, podModesConfig, POD_MODES, TEMPLATE_MODE } from './pod-modes';
import { startPodvisord } from './podvisord';
import { measureQemuFloor } from './qemu-floor';
import type { Measured } from './report';
import { withRuntime } from './session';
import type { Summary } from './stats';
import { Timings } from './timings';
import { measureVmPopulation } from './vm-population';

// Beside the runtimes' 10.240 and 10.241 and the network floor's 10.242.
const VM_SUBNET = '10.243.0.0/16';

/** What `--vm` measured. */
export interface VmResult {
  accelerator: 'kvm' | 'tcg';
  /** Per mode (runc, and each vm handler): its pods' start latencies and footprint. */
  modes: Measured[];
  /** The bare QEMU boot (qemu-floor.ts). */
  floor: Map<string, Summary>;
  /** Many template pods at once: `populationPods` of them. */
  population: Measured;
  populationPods: number;
}

/**
 * The VM pods beside runc pods: first a bare QEMU boot (no daemon running), then one podvisord
 * with a handler per mode (pod-modes.ts), each mode's pod starts timed in turn, then many
 * template pods together.
 */
export async function measureVm(images: BenchImages, options: BenchOptions, signal: AbortSignal, say: (message: string) => void): Promise<VmResult> {
  say(`a bare QEMU boot of the VM guest, ${options.vmPods} times`);
  const floor = new Timings();
  const accelerator = await measureQemuFloor(floor, { boots: options.vmPods, signal });

  const modes: Measured[] = [];
  const figures = new Figures();
  const network = benchNetwork('vm', 'pvm', VM_SUBNET);
  const config = podModesConfig(POD_MODES);
  const session = {
    name: 'podvisor' as const,
    network,
    start: (onDir: (dir: string) => void) => startPodvisord(images.registry.host, network, onDir, { cpuProfileDir: options.cpuProfileDir, config }),
  };
  const progress = (message: string): void => say(`podvisor, VM pods: ${message}`);
  await withRuntime(session, options.parallel, progress, async (runtime, cri) => {
    await cri.pullImage(images.busybox);
    for (const mode of POD_MODES) {
      progress(`${mode.name}: 1 untimed pod, then ${options.vmPods} timed, one at a time`);
      const modeProgress = (message: string): void => progress(`${mode.name}: ${message}`);
      modes.push(await measurePodStarts(cri, mode, { pods: options.vmPods, image: images.busybox, runtimeDir: runtime.dir, signal, progress: modeProgress }));
    }
    progress(`${options.vmScalePods} ${TEMPLATE_MODE.name} pods, ${options.parallel} at a time`);
    const daemonPid = runtime.daemon.child.pid ?? 0;
    const population = { pods: options.vmScalePods, parallel: options.parallel, image: images.busybox, handler: TEMPLATE_MODE.name, idleSeconds: options.idleSeconds, daemonPid, signal };
    await measureVmPopulation(cri, figures, population);
  });
  return { accelerator, modes, floor: floor.summaries(), population: { name: `${options.vmScalePods} ${TEMPLATE_MODE.name} pods`, latencies: new Map(), figures: figures.list() }, populationPods: options.vmScalePods };
}
