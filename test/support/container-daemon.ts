// A daemon ready to run containers: a real registry holding busybox (pulled already), a CNI
// bridge network of its own, and the default configuration (runc, crun and vm handlers) or another.
import type { Client } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerConfig, type ContainerState, ImageServiceService, ImageSpec, PodSandboxConfig, RuntimeServiceService } from '../../proto/gen/cri-api-v1';
import { waitUntil } from '../../system/wait-until';
import { criClient, unary } from '../../testbed/cri-client';
import { DaemonProcess, isolatingFlags, removeDirs, testDirs, type TestDirs } from '../../testbed/daemon-process';
import { busyboxLayer, pushImage } from '../../testbed/test-images';
import { startRegistry, type TestRegistry } from '../../testbed/test-registry';
import { clearSubnet, command } from './net-tools';

const BRIDGE_PREFIX = 'pvd';
/** For an afterAll that closes a daemon: removing the VM pods a failed case left takes a while. */
export const CLOSE_MS = 120_000;

export type ContainerOptions = Parameters<typeof ContainerConfig.fromPartial>[0];
export type PodOptions = Parameters<typeof PodSandboxConfig.fromPartial>[0];

export class ContainerDaemon {
  private constructor(
    readonly dirs: TestDirs,
    /** Replaced by restart. */
    public daemon: DaemonProcess,
    public client: Client,
    readonly image: string,
    private readonly registry: TestRegistry,
    private readonly bridge: string,
    private readonly flags: string[],
    private readonly undoPrepare: () => Promise<void>,
  ) {}

  /** host:port of the registry the image came from. */
  get registryHost(): string {
    return this.registry.host;
  }

  /**
   * `subnet` is the pod network's /24, distinct per suite so suites can run side by side.
   * `portmap` adds the portmap plugin to the network, so pods' host ports get DNAT rules.
   * `config` is the daemon's config file (TOML); empty, the defaults apply. `gateway` gives the
   * bridge the subnet's first address and the pods a default route through it, so the host
   * reaches them. `prepare` runs on the daemon's directories before it starts (e.g. mounts
   * filesystems there) and returns what undoes it, run once the daemon has stopped.
   */
  static async start(
    subnet: string,
    options: { portmap?: boolean; config?: string; gateway?: boolean; prepare?: (dirs: TestDirs) => Promise<() => Promise<void>> } = {},
  ): Promise<ContainerDaemon> {
    const suffix = randomBytes(3).toString('hex');
    const bridge = `${BRIDGE_PREFIX}${suffix}`;
    await clearSubnet(subnet, BRIDGE_PREFIX);
    const registry = await startRegistry();
    const dirs = await testDirs();
    let undoPrepare = async (): Promise<void> => undefined;
    let daemon: DaemonProcess | undefined;
    try {
      if (options.prepare) undoPrepare = await options.prepare(dirs);
      await pushImage(registry.host, 'test/busybox', 'latest', { layers: [await busyboxLayer()], config: { config: { Cmd: ['sh'] } } });
      const image = `${registry.host}/test/busybox:latest`;
      const registriesConf = join(dirs.dir, 'registries.conf');
      await writeFile(dirs.configFile, options.config ?? '');
      await writeFile(registriesConf, `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`);
      const ipam = { type: 'host-local', dataDir: join(dirs.dir, 'cni-data'), ranges: [[{ subnet }]] };
      const portmap = options.portmap ? [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }] : [];
      await writeFile(join(dirs.cniDir, '10-test.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: `podvisor-${suffix}`, plugins: [{ type: 'bridge', bridge, isGateway: options.gateway ?? false, ipam }, ...portmap] }));
      const flags = [...isolatingFlags(dirs), '--registries-conf', registriesConf, '--log-level', 'debug'];
      daemon = await DaemonProcess.serving(flags);
      const client = criClient(dirs.socket);
      await unary(client, ImageServiceService.pullImage, { image: ImageSpec.fromPartial({ image }), auth: undefined, sandboxConfig: undefined });
      return new ContainerDaemon(dirs, daemon, client, image, registry, bridge, flags, undoPrepare);
    } catch (error) {
      await daemon?.stop();
      await registry.stop();
      await undoPrepare();
      await removeDirs(dirs);
      throw error;
    }
  }

  /** `extra` adds to or replaces fields of the pod's config (namespace options, labels...). */
  runPod(name: string, runtimeHandler: string, extra: PodOptions = {}): Promise<string> {
    const config = PodSandboxConfig.fromPartial({ metadata: { name, namespace: 'test', uid: `uid-${name}` }, hostname: name, logDirectory: join(this.dirs.dir, 'logs', name), ...extra });
    return unary(this.client, RuntimeServiceService.runPodSandbox, { config, runtimeHandler }).then((response) => response.podSandboxId);
  }

  async createContainer(podSandboxId: string, name: string, command: string[], extra: ContainerOptions = {}): Promise<string> {
    const config = ContainerConfig.fromPartial({ metadata: { name }, image: { image: this.image }, command, logPath: `${name}.log`, ...extra });
    return (await unary(this.client, RuntimeServiceService.createContainer, { podSandboxId, config, sandboxConfig: undefined })).containerId;
  }

  async status(containerId: string, verbose = false): Promise<{ state?: ContainerState; exitCode?: number; reason?: string; pid: number }> {
    const response = await unary(this.client, RuntimeServiceService.containerStatus, { containerId, verbose });
    const info = verbose ? (JSON.parse(response.info.info ?? '{}') as { pid?: number }) : {};
    return { state: response.status?.state, exitCode: response.status?.exitCode, reason: response.status?.reason, pid: info.pid ?? 0 };
  }

  async waitForState(containerId: string, state: ContainerState): Promise<void> {
    const reached = await waitUntil(async () => (await this.status(containerId)).state === state, 60_000, 100);
    if (!reached) throw new Error(`container ${containerId} never reached state ${state}`);
  }

  /**
   * Stops the daemon (SIGKILL: as a crash would), waits `downMs` with it down, runs `whileDown`,
   * and starts it again on the same state.
   */
  async restart(downMs: number, signal: NodeJS.Signals = 'SIGTERM', whileDown?: () => Promise<void>): Promise<void> {
    this.client.close();
    await this.daemon.stop(signal);
    await sleep(downMs);
    await whileDown?.();
    this.daemon = await DaemonProcess.serving(this.flags);
    this.client = criClient(this.dirs.socket);
  }

  /** StopPodSandbox then RemovePodSandbox, as the kubelet removes a pod. */
  async stopAndRemovePod(podSandboxId: string, deadlineMs?: number): Promise<void> {
    await unary(this.client, RuntimeServiceService.stopPodSandbox, { podSandboxId }, deadlineMs);
    await unary(this.client, RuntimeServiceService.removePodSandbox, { podSandboxId }, deadlineMs);
  }

  /**
   * Waits until the containers RemoveContainer answered for are taken apart too (that goes on
   * after the answer): their removal records, deleted last, are gone.
   */
  async removalsDone(): Promise<void> {
    const pending = join(this.dirs.root, 'removed', 'containers');
    if (!(await waitUntil(async () => (await readdir(pending).catch(() => [])).length === 0, 60_000, 50))) throw new Error(`containers still being taken apart: ${pending}`);
  }

  /** The IDs of every pod ListPodSandbox shows. */
  async podIds(): Promise<string[]> {
    return (await unary(this.client, RuntimeServiceService.listPodSandbox, { filter: undefined })).items.map((pod) => pod.id);
  }

  /** Where a pod's container logs go, by pod name. */
  logFile(podName: string, containerName: string): string {
    return join(this.dirs.dir, 'logs', podName, `${containerName}.log`);
  }

  /** The pod's IP as PodSandboxStatus reports it; throws when it has none. */
  async podIp(podSandboxId: string): Promise<string> {
    const { status } = await unary(this.client, RuntimeServiceService.podSandboxStatus, { podSandboxId, verbose: false });
    const ip = status?.network?.ip;
    if (!ip) throw new Error(`pod ${podSandboxId} has no IP`);
    return ip;
  }

  /** Removes every pod, as after a failed case; a removal that fails is left to the next try. */
  async removePods(): Promise<void> {
    const left = await unary(this.client, RuntimeServiceService.listPodSandbox, { filter: undefined }).catch(() => ({ items: [] }));
    for (const pod of left.items) await unary(this.client, RuntimeServiceService.removePodSandbox, { podSandboxId: pod.id }).catch(() => undefined);
  }

  /** Removes pods a failed test left, then stops everything this fixture started. */
  async close(): Promise<void> {
    await this.removePods();
    this.client.close();
    await this.daemon.stop();
    await this.registry.stop();
    await command('ip', ['link', 'delete', this.bridge]).catch(() => undefined);
    await this.undoPrepare();
    await removeDirs(this.dirs);
  }
}
