import { status as grpcStatus, type Client } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
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
import { errorMessage } from '../system/errors';
import { unary, type MethodDefinition } from '../testbed/cri-client';

// Pulls and stops may wait on a registry or a grace period, and a VM pod's start on a boot
// (the daemon gives one 90 s); the rest answer in milliseconds.
const PULL_DEADLINE_MS = 120_000;
const POD_START_DEADLINE_MS = 120_000;
const CALL_DEADLINE_MS = 30_000;

/** The gRPC status name of a failed call's code (UNKNOWN for an error that carries none). */
export function callOutcome(error: unknown): string {
  const code: unknown = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'number' && grpcStatus[code] !== undefined ? grpcStatus[code] : 'UNKNOWN';
}

/** Hears of every call a CriCalls makes, once it has ended: the CRI method, how long it took, its outcome (OK, or callOutcome), and a failure's message. */
export type CallObserver = (method: string, ms: number, outcome: string, message?: string) => void;

/**
 * The CRI calls the bench makes, shaped the way the kubelet shapes them, so that both runtimes
 * see identical requests.
 */
export class CriCalls {
  constructor(
    readonly client: Client,
    /** Every pod's log directory; container log paths are unique within it. */
    private readonly logDirectory: string,
    private readonly observer?: CallObserver,
  ) {}

  private async call<Request, Response>(method: MethodDefinition<Request, Response>, request: Request, deadlineMs = CALL_DEADLINE_MS): Promise<Response> {
    if (this.observer === undefined) return unary(this.client, method, request, deadlineMs);
    const name = method.path.slice(method.path.lastIndexOf('/') + 1);
    const started = performance.now();
    try {
      const response = await unary(this.client, method, request, deadlineMs);
      this.observer(name, performance.now() - started, 'OK');
      return response;
    } catch (error) {
      this.observer(name, performance.now() - started, callOutcome(error), errorMessage(error));
      throw error;
    }
  }

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
    return (await this.call(RuntimeServiceService.runPodSandbox, { config, runtimeHandler }, POD_START_DEADLINE_MS)).podSandboxId;
  }

  /** The pod's cgroup path, from podvisord's verbose status (its `info` JSON). */
  async podCgroup(podSandboxId: string): Promise<string> {
    const { info } = await this.call(RuntimeServiceService.podSandboxStatus, { podSandboxId, verbose: true });
    const path: unknown = (JSON.parse(info.info ?? '{}') as { cgroup?: { path?: unknown } }).cgroup?.path;
    if (typeof path !== 'string' || path === '') throw new Error(`the status of pod ${podSandboxId} names no cgroup`);
    return path;
  }

  async podStatus(podSandboxId: string, verbose = false): Promise<void> {
    await this.call(RuntimeServiceService.podSandboxStatus, { podSandboxId, verbose });
  }

  async podStats(podSandboxId: string): Promise<void> {
    await this.call(RuntimeServiceService.podSandboxStats, { podSandboxId });
  }

  async stopPod(podSandboxId: string): Promise<void> {
    await this.call(RuntimeServiceService.stopPodSandbox, { podSandboxId });
  }

  async removePod(podSandboxId: string): Promise<void> {
    await this.call(RuntimeServiceService.removePodSandbox, { podSandboxId });
  }

  async createContainer(podSandboxId: string, sandboxConfig: PodSandboxConfig, name: string, image: string, command: string[]): Promise<string> {
    const podName = sandboxConfig.metadata?.name ?? podSandboxId;
    const config = ContainerConfig.fromPartial({ metadata: { name, attempt: 0 }, image: { image }, command, logPath: `${podName}-${name}.log`, labels: { app: 'bench' } });
    return (await this.call(RuntimeServiceService.createContainer, { podSandboxId, config, sandboxConfig })).containerId;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call(RuntimeServiceService.startContainer, { containerId });
  }

  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    await this.call(RuntimeServiceService.stopContainer, { containerId, timeout: BigInt(timeoutSeconds) }, CALL_DEADLINE_MS + timeoutSeconds * 1000);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call(RuntimeServiceService.removeContainer, { containerId });
  }

  async execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<{ exitCode: number; stdout: string }> {
    const reply = await this.call(RuntimeServiceService.execSync, { containerId, cmd, timeout: BigInt(timeoutSeconds) }, CALL_DEADLINE_MS + timeoutSeconds * 1000);
    return { exitCode: reply.exitCode, stdout: reply.stdout.toString() };
  }

  async containerStatus(containerId: string, verbose = false): Promise<void> {
    await this.call(RuntimeServiceService.containerStatus, { containerId, verbose });
  }

  async containerStats(containerId: string): Promise<void> {
    await this.call(RuntimeServiceService.containerStats, { containerId });
  }

  async listContainers(): Promise<Container[]> {
    return (await this.call(RuntimeServiceService.listContainers, { filter: undefined })).containers;
  }

  async listPods(): Promise<PodSandbox[]> {
    return (await this.call(RuntimeServiceService.listPodSandbox, { filter: undefined })).items;
  }

  async listContainerStats(): Promise<void> {
    await this.call(RuntimeServiceService.listContainerStats, { filter: undefined });
  }

  async listPodStats(): Promise<void> {
    await this.call(RuntimeServiceService.listPodSandboxStats, { filter: undefined });
  }

  async pullImage(image: string): Promise<void> {
    await this.call(ImageServiceService.pullImage, { image: ImageSpec.fromPartial({ image }), auth: undefined, sandboxConfig: undefined }, PULL_DEADLINE_MS);
  }

  async removeImage(image: string): Promise<void> {
    await this.call(ImageServiceService.removeImage, { image: ImageSpec.fromPartial({ image }) });
  }

  async imageStatus(image: string): Promise<boolean> {
    return (await this.call(ImageServiceService.imageStatus, { image: ImageSpec.fromPartial({ image }), verbose: false })).image !== undefined;
  }

  async listImages(): Promise<void> {
    await this.call(ImageServiceService.listImages, { filter: undefined });
  }

  async imageFsInfo(): Promise<void> {
    await this.call(ImageServiceService.imageFsInfo, {});
  }

  version(): Promise<VersionResponse> {
    return this.call(RuntimeServiceService.version, { version: '' });
  }

  status(): Promise<StatusResponse> {
    return this.call(RuntimeServiceService.status, { verbose: false });
  }
}
