import type { Client } from '@grpc/grpc-js';
import {
  ContainerConfig,
  ImageServiceService,
  ImageSpec,
  PodSandboxConfig,
  RuntimeServiceService,
  type Container,
  type PodSandbox,
  type StatusResponse,
  type VersionResponse,
} from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';

// Pulls and stops may wait on a registry or a grace period, and a VM pod's start on a boot
// (the daemon gives one 90 s); the rest answer in milliseconds.
const PULL_DEADLINE_MS = 120_000;
const POD_START_DEADLINE_MS = 120_000;
const CALL_DEADLINE_MS = 30_000;

/**
 * The CRI calls the bench makes, shaped the way the kubelet shapes them, so that both runtimes
 * see identical requests.
 */
export class CriCalls {
  constructor(
    readonly client: Client,
    /** Every pod's log directory; container log paths are unique within it. */
    private readonly logDirectory: string,
  ) {}

  podConfig(name: string): PodSandboxConfig {
    return PodSandboxConfig.fromPartial({
      metadata: { name, namespace: 'bench', uid: `uid-${name}`, attempt: 0 },
      hostname: name,
      logDirectory: this.logDirectory,
      labels: { app: 'bench' },
    });
  }

  /** The pod's ID; `runtimeHandler` '' is the runtime's default handler. */
  async runPod(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    return (await unary(this.client, RuntimeServiceService.runPodSandbox, { config, runtimeHandler }, POD_START_DEADLINE_MS)).podSandboxId;
  }

  /** The pod's cgroup path, from podvisord's verbose status (its `info` JSON). */
  async podCgroup(podSandboxId: string): Promise<string> {
    const { info } = await unary(this.client, RuntimeServiceService.podSandboxStatus, { podSandboxId, verbose: true }, CALL_DEADLINE_MS);
    const path: unknown = (JSON.parse(info.info ?? '{}') as { cgroup?: { path?: unknown } }).cgroup?.path;
    if (typeof path !== 'string' || path === '') throw new Error(`the status of pod ${podSandboxId} names no cgroup`);
    return path;
  }

  async stopPod(podSandboxId: string): Promise<void> {
    await unary(this.client, RuntimeServiceService.stopPodSandbox, { podSandboxId }, CALL_DEADLINE_MS);
  }

  async removePod(podSandboxId: string): Promise<void> {
    await unary(this.client, RuntimeServiceService.removePodSandbox, { podSandboxId }, CALL_DEADLINE_MS);
  }

  async createContainer(podSandboxId: string, sandboxConfig: PodSandboxConfig, name: string, image: string, command: string[]): Promise<string> {
    const podName = sandboxConfig.metadata?.name ?? podSandboxId;
    const config = ContainerConfig.fromPartial({ metadata: { name, attempt: 0 }, image: { image }, command, logPath: `${podName}-${name}.log`, labels: { app: 'bench' } });
    return (await unary(this.client, RuntimeServiceService.createContainer, { podSandboxId, config, sandboxConfig }, CALL_DEADLINE_MS)).containerId;
  }

  async startContainer(containerId: string): Promise<void> {
    await unary(this.client, RuntimeServiceService.startContainer, { containerId }, CALL_DEADLINE_MS);
  }

  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    await unary(this.client, RuntimeServiceService.stopContainer, { containerId, timeout: BigInt(timeoutSeconds) }, CALL_DEADLINE_MS + timeoutSeconds * 1000);
  }

  async removeContainer(containerId: string): Promise<void> {
    await unary(this.client, RuntimeServiceService.removeContainer, { containerId }, CALL_DEADLINE_MS);
  }

  async execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<{ exitCode: number; stdout: string }> {
    const reply = await unary(this.client, RuntimeServiceService.execSync, { containerId, cmd, timeout: BigInt(timeoutSeconds) }, CALL_DEADLINE_MS + timeoutSeconds * 1000);
    return { exitCode: reply.exitCode, stdout: reply.stdout.toString() };
  }

  async containerStatus(containerId: string): Promise<void> {
    await unary(this.client, RuntimeServiceService.containerStatus, { containerId, verbose: false }, CALL_DEADLINE_MS);
  }

  async listContainers(): Promise<Container[]> {
    return (await unary(this.client, RuntimeServiceService.listContainers, { filter: undefined }, CALL_DEADLINE_MS)).containers;
  }

  async listPods(): Promise<PodSandbox[]> {
    return (await unary(this.client, RuntimeServiceService.listPodSandbox, { filter: undefined }, CALL_DEADLINE_MS)).items;
  }

  async pullImage(image: string): Promise<void> {
    await unary(this.client, ImageServiceService.pullImage, { image: ImageSpec.fromPartial({ image }), auth: undefined, sandboxConfig: undefined }, PULL_DEADLINE_MS);
  }

  async removeImage(image: string): Promise<void> {
    await unary(this.client, ImageServiceService.removeImage, { image: ImageSpec.fromPartial({ image }) }, CALL_DEADLINE_MS);
  }

  async imageStatus(image: string): Promise<boolean> {
    return (await unary(this.client, ImageServiceService.imageStatus, { image: ImageSpec.fromPartial({ image }), verbose: false }, CALL_DEADLINE_MS)).image !== undefined;
  }

  async listImages(): Promise<void> {
    await unary(this.client, ImageServiceService.listImages, { filter: undefined }, CALL_DEADLINE_MS);
  }

  version(): Promise<VersionResponse> {
    return unary(this.client, RuntimeServiceService.version, { version: '' }, CALL_DEADLINE_MS);
  }

  status(): Promise<StatusResponse> {
    return unary(this.client, RuntimeServiceService.status, { verbose: false }, CALL_DEADLINE_MS);
  }
}
