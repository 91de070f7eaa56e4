import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultConfig } from '../config/config';
import { NETNS_DIR } from '../network/namespaces';
import { NetworkManager } from '../network/network-manager';
import { createLogger } from '../system/logger';
import { benchNetwork, installNetwork, removeBridge, runIp } from './cni-network';
import { runPool } from './pool';
import type { Timings } from './timings';

export const NETWORK_FLOOR = 'netns + CNI ADD + CNI DEL';

// Beside the runtimes' 10.240 and 10.241.
const FLOOR_SUBNET = '10.242.0.0/16';

export interface FloorOptions {
  pods: number;
  parallel: number;
  signal: AbortSignal;
}

/** One pod's network and nothing else: a netns with loopback up, ADD, DEL, the netns gone. */
async function podNetwork(manager: NetworkManager, timings: Timings): Promise<void> {
  const id = randomBytes(32).toString('hex');
  const name = `podvisor-floor-${id.slice(0, 12)}`;
  const started = performance.now();
  await runIp(['netns', 'add', name]);
  try {
    await runIp(['-n', name, 'link', 'set', 'lo', 'up']);
    const request = { podId: id, name, namespace: 'bench', uid: id, netns: join(NETNS_DIR, name), portMappings: [] };
    const { value: attachment } = await timings.measure('CNI ADD', () => manager.attach(request));
    await timings.measure('CNI DEL', () => manager.detach(request, attachment));
  } finally {
    await runIp(['netns', 'delete', name]);
  }
  timings.record(NETWORK_FLOOR, performance.now() - started);
}

/**
 * What a pod's network costs on this machine with no runtime around it: the bench's conflist
 * run by our CNI code on bare namespaces, `pods` times, `parallel` at a time, as the lifecycles
 * run. No runtime's pod lifecycle can take less, so it bounds what a ratio can reach.
 */
export async function measureNetworkFloor(timings: Timings, options: FloorOptions): Promise<void> {
  const network = benchNetwork('floor', 'flb', FLOOR_SUBNET);
  const dir = await mkdtemp(join(tmpdir(), 'podvisor-bench-floor-'));
  try {
    const configDir = join(dir, 'net.d');
    await installNetwork(network, configDir, join(dir, 'leases'));
    const manager = new NetworkManager({ configDir, pluginDirs: defaultConfig().network.cni_plugin_dirs, defaultNetwork: network.name, logger: createLogger('warn', 'text') });
    await runPool(options.pods, options.parallel, options.signal, () => podNetwork(manager, timings));
  } finally {
    await removeBridge(network);
    await rm(dir, { recursive: true, force: true });
  }
}
