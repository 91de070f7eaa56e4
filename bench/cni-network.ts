import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool, runToolChecked } from '../system/run-tool';

const IP_TIMEOUT_MS = 10_000;

/** One runtime's pod network: a bridge and subnet of its own, configured the same way for both. */
export interface BenchNetwork {
  name: string;
  bridge: string;
  subnet: string;
}

/** A network named for `label`, with a random suffix so a run never meets an earlier run's leftovers. */
export function benchNetwork(label: string, bridgePrefix: string, subnet: string): BenchNetwork {
  const suffix = randomBytes(3).toString('hex');
  return { name: `bench-${label}-${suffix}`, bridge: `${bridgePrefix}${suffix}`, subnet };
}

/**
 * The conflist both runtimes get (bridge with host-local IPAM, then portmap, as a kubelet node
 * would have); only the names, the subnet and host-local's lease directory differ.
 */
export function conflist(network: BenchNetwork, leaseDir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: network.name,
      plugins: [
        {
          type: 'bridge',
          bridge: network.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', dataDir: leaseDir, ranges: [[{ subnet: network.subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/** Writes the network's conflist into `configDir` (created), with leases under `leaseDir`. */
export async function installNetwork(network: BenchNetwork, configDir: string, leaseDir: string): Promise<void> {
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, `10-${network.name}.conflist`), conflist(network, leaseDir));
}

/** Runs `ip` with `args`; a failure is an error. */
export function runIp(args: string[]): Promise<string> {
  return runToolChecked('ip', args, { timeoutMs: IP_TIMEOUT_MS });
}

/** The bridge plugin leaves its bridge behind when the last pod goes; the bench removes it. */
export async function removeBridge(network: BenchNetwork): Promise<void> {
  await runTool('ip', ['link', 'delete', network.bridge], { timeoutMs: IP_TIMEOUT_MS });
}
