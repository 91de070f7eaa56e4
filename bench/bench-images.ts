import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { busyboxLayer, pushImage, type LayerSpec } from '../testbed/test-images';
import { startRegistry, type TestRegistry } from '../testbed/test-registry';

// Built next to the daemon by `setup.mjs build` (oci/conmon/pause/pause.c, linked statically).
const PAUSE_BINARY = join(__dirname, '..', 'pause');

/** The image references both runtimes pull, all from one local registry. */
export interface BenchImages {
  registry: TestRegistry;
  /** What the bench's containers run. */
  busybox: string;
  /** Pulled and removed again in the pull loop: no layer it has is shared with another image. */
  pullTarget: string;
  /** containerd's sandbox image; Podvisor's plain pods need none. */
  pause: string;
}

async function pauseLayer(): Promise<LayerSpec> {
  return [{ type: 'file', path: 'pause', content: await readFile(PAUSE_BINARY), mode: 0o755 }];
}

/** Starts a docker-registry on a free loopback port and pushes the bench's three images to it. */
export async function startBenchRegistry(): Promise<BenchImages> {
  const registry = await startRegistry();
  try {
    const busybox = await busyboxLayer();
    await pushImage(registry.host, 'bench/busybox', '1', { layers: [busybox], config: { config: { Cmd: ['sh'] } } });
    const marked: LayerSpec = [...busybox, { type: 'dir', path: 'etc' }, { type: 'file', path: 'etc/bench-pull-target', content: 'a layer of its own\n' }];
    await pushImage(registry.host, 'bench/pull-target', '1', { layers: [marked], config: { config: { Cmd: ['sh'] } } });
    await pushImage(registry.host, 'bench/pause', '1', { layers: [await pauseLayer()], config: { config: { Entrypoint: ['/pause'] } } });
  } catch (error) {
    await registry.stop();
    throw error;
  }
  return {
    registry,
    busybox: `${registry.host}/bench/busybox:1`,
    pullTarget: `${registry.host}/bench/pull-target:1`,
    pause: `${registry.host}/bench/pause:1`,
  };
}
