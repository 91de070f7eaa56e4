import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DaemonProcess, isolatingFlags, testDirs } from '../testbed/daemon-process';
import { installNetwork, type BenchNetwork } from './cni-network';
import { INSPECT_FLAG } from './daemon-heap';
import type { RuntimeUnderTest } from './runtime';

/** Only the bench's registry, over plain HTTP. */
function registriesConf(registryHost: string): string {
  return `[[registry]]\nlocation = "${registryHost}"\ninsecure = true\n`;
}

export interface PodvisordSetup {
  /** Where node writes a CPU profile of the daemon when it exits; none without. */
  cpuProfileDir?: string;
  /** The config file's text; empty: the default configuration. */
  config?: string;
  /** Open node's inspector on a loopback port (for heapAfterGc); only on a machine whose local users may all be root. */
  inspect?: boolean;
}

/**
 * Starts podvisord from dist/ on a scratch directory of its own (root, runroot, socket, CNI
 * config, registries.conf), with `setup.config` or the default configuration otherwise. `onDir`
 * learns the directory before anything can fail, so the caller can always clean it up.
 */
export async function startPodvisord(registryHost: string, network: BenchNetwork, onDir: (dir: string) => void, setup: PodvisordSetup = {}): Promise<RuntimeUnderTest> {
  const { cpuProfileDir, config = '', inspect = false } = setup;
  const dirs = await testDirs('podvisor-bench-');
  onDir(dirs.dir);
  const registries = join(dirs.dir, 'registries.conf');
  const registriesDropIns = join(dirs.dir, 'registries.conf.d');
  await mkdir(registriesDropIns);
  await writeFile(registries, registriesConf(registryHost));
  await writeFile(dirs.configFile, config);
  await installNetwork(network, dirs.cniDir, join(dirs.dir, 'cni-leases'));
  const nodeFlags = [...(cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir]), ...(inspect ? [INSPECT_FLAG] : [])];
  const launch = (): Promise<DaemonProcess> =>
    DaemonProcess.serving([...isolatingFlags(dirs), '--registries-conf', registries, '--registries-conf-dir', registriesDropIns], true, nodeFlags);
  return { name: 'podvisor', daemon: await launch(), socket: dirs.socket, relaunch: launch, dir: dirs.dir, network };
}
