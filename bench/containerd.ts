import { mkdtemp, readdir, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { criClient } from '../testbed/cri-client';
import { DaemonProcess } from '../testbed/daemon-process';
import { installNetwork, type BenchNetwork } from './cni-network';
import { CriCalls } from './cri-calls';
import type { RuntimeUnderTest } from './runtime';

const CONTAINERD = '/usr/bin/containerd';
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
const CGROUP_ROOT = '/sys/fs/cgroup';
// What containerd makes outside its configured directories: runc's parent cgroup for the CRI
// namespace, and the directory of its shims' sockets.
const PARENT_CGROUP = 'k8s.io';
const SHIM_SOCKET_DIRS = ['/run/containerd/s', '/run/containerd'];

export interface ContainerdPaths {
  dir: string;
  socket: string;
  cniConfigDir: string;
}

export function containerdPaths(dir: string): ContainerdPaths {
  return { dir, socket: join(dir, 'containerd.sock'), cniConfigDir: join(dir, 'cni') };
}

/**
 * containerd's config: everything it keeps (root, state, runc's state, its opt directory) under
 * the bench's scratch directory; the CRI plugin on the bench's CNI network, pulling the bench
 * registry over plain HTTP, with the pause image from there; `restrict_oom_score_adj` because
 * this sandbox forbids negative OOM score adjustments.
 */
export function containerdConfig(paths: ContainerdPaths, registryHost: string, pauseImage: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${join(paths.dir, 'root')}"
state = "${join(paths.dir, 'state')}"

[grpc]
  address = "${paths.socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(paths.dir, 'opt')}"

[${cri}]
  sandbox_image = "${pauseImage}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[${cri}.containerd]
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  Root = "${join(paths.dir, 'runc')}"

[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "${paths.cniConfigDir}"

[${cri}.registry.mirrors."${registryHost}"]
  endpoint = ["http://${registryHost}"]
`;
}

/** Waits until the CRI plugin answers and reports both the runtime and the network ready. */
async function waitUntilReady(daemon: DaemonProcess, cri: CriCalls): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) throw new Error(`containerd exited:\n${daemon.log}`);
    try {
      const conditions = (await cri.status()).status?.conditions ?? [];
      const notReady = conditions.filter((condition) => !condition.status);
      if (conditions.length > 0 && notReady.length === 0) return;
      last = notReady.map((condition) => `${condition.type}: ${condition.message}`).join('; ');
    } catch (error) {
      last = String(error);
    }
    await sleep(POLL_MS);
  }
  throw new Error(`containerd's CRI plugin was not ready within ${READY_TIMEOUT_MS} ms (${last}):\n${daemon.log}`);
}

/** Starts Debian's containerd on a scratch directory of its own; `onDir` as for podvisord. */
export async function startContainerd(registryHost: string, pauseImage: string, network: BenchNetwork, onDir: (dir: string) => void): Promise<RuntimeUnderTest> {
  const paths = containerdPaths(await mkdtemp(join(tmpdir(), 'containerd-bench-')));
  onDir(paths.dir);
  await installNetwork(network, paths.cniConfigDir, join(paths.dir, 'cni-leases'));
  const configFile = join(paths.dir, 'config.toml');
  await writeFile(configFile, containerdConfig(paths, registryHost, pauseImage));
  const launch = async (): Promise<DaemonProcess> => {
    const daemon = DaemonProcess.spawnProgram(CONTAINERD, ['--config', configFile], true);
    const client = criClient(paths.socket);
    try {
      await waitUntilReady(daemon, new CriCalls(client, paths.dir));
    } finally {
      client.close();
    }
    return daemon;
  };
  return { name: 'containerd', daemon: await launch(), socket: paths.socket, relaunch: launch, dir: paths.dir, network };
}

/**
 * Removes what containerd leaves outside its directories once its pods are gone, if empty:
 * another containerd on the host may be using them, and then they stay.
 */
export async function removeContainerdLeftovers(): Promise<void> {
  const hierarchies = (await readdir(CGROUP_ROOT).catch(() => [])).map((entry) => join(CGROUP_ROOT, entry, PARENT_CGROUP));
  for (const dir of [join(CGROUP_ROOT, PARENT_CGROUP), ...hierarchies, ...SHIM_SOCKET_DIRS]) await rmdir(dir).catch(() => undefined);
}
