import { join } from 'node:path';
import type { OciHandlerConfig } from '../../config/config';
import { errorMessage } from '../../system/errors';
import { ConmonRuntime } from './conmon-runtime';
import { hostStatsReader } from '../cgroups/cgroup-stats';
import type { CgroupUsage } from '../cgroups/cgroup-usage';
import { podCgroupLimits, setPodCgroupLimits } from '../cgroups/pod-cgroup-limits';
import { checkRequiredFiles } from '../handler-readiness';
import { recursiveReadOnlySupported } from '../recursive-read-only';
import { runcCgroupDir } from './runc-cgroup-dir';
import { forwardPort } from './port-forward';
import { STREAM_RELAY_PATH } from './stream-relay';
import { runtimeCgroupProblem, runtimeName } from './runtime-cgroup-support';
import type { ForwardedConnection, StreamIO } from '../stream-io';
import type {
  ContainerExit,
  ContainerLimits,
  ContainerRuntimeState,
  CreateOptions,
  ExecResult,
  HandlerEnvironment,
  HandlerFeatures,
  HandlerReadiness,
  PodContainerContext,
  PodHandlerState,
  PodResources,
  PodSandbox,
  RestoredPod,
  RuntimeHandler,
} from '../runtime-handler';
import { ConmonPods } from './conmon-pods';
import { PAUSE_PATH } from './infra-process';

/** Containers run by an OCI runtime (runc, crun), each watched by its own conmon. */
export class ConmonHandler implements RuntimeHandler {
  readonly type = 'oci';
  readonly usesPodNetwork = false;

  private readonly runtime: ConmonRuntime;
  private readonly pods: ConmonPods;
  private runtimeName: Promise<string> | undefined;
  private recursiveReadOnly: Promise<boolean> | undefined;

  constructor(
    readonly name: string,
    private readonly config: OciHandlerConfig,
    environment: HandlerEnvironment,
  ) {
    // Each handler keeps its own runtime state, so runc and crun never see each other's containers.
    const dir = join(environment.runroot, 'handlers', name);
    this.runtime = new ConmonRuntime({
      runtimePath: config.runtime_path,
      conmonPath: config.monitor_path,
      runtimeRoot: join(dir, 'runtime'),
      exitsDir: join(dir, 'exits'),
      persistDir: join(dir, 'containers'),
      logger: environment.logger,
      cgroupManager: environment.cgroupManager,
      runtimeTimeoutMs: config.runtime_timeout_seconds * 1000,
    });
    this.pods = new ConmonPods(join(dir, 'pods'));
  }

  async readiness(): Promise<HandlerReadiness> {
    const files = await checkRequiredFiles(this.name, [
      { role: 'runtime', path: this.config.runtime_path, executable: true },
      { role: 'conmon', path: this.config.monitor_path, executable: true },
      { role: 'stream relay', path: STREAM_RELAY_PATH, executable: true },
      { role: 'pause', path: PAUSE_PATH, executable: true },
    ]);
    if (!files.ready) return files;
    let name: string;
    try {
      // The binary does not change while we run; only the host's cgroups may.
      name = await (this.runtimeName ??= runtimeName(this.config.runtime_path));
    } catch (error) {
      this.runtimeName = undefined;
      return { ready: false, message: `handler ${this.name}: runtime ${this.config.runtime_path} does not run: ${errorMessage(error)}` };
    }
    const problem = await runtimeCgroupProblem(name);
    return problem === undefined ? files : { ready: false, message: `handler ${this.name}: ${problem}` };
  }

  // Neither the kernel nor the runtime binary changes while we run, so the answer is kept, unless
  // the runtime could not be run: it may be installed later. ID-mapped mounts, which user
  // namespaces need, are not made.
  async features(): Promise<HandlerFeatures> {
    let recursiveReadOnlyMounts = false;
    try {
      recursiveReadOnlyMounts = await (this.recursiveReadOnly ??= recursiveReadOnlySupported(this.config.runtime_path));
    } catch {
      this.recursiveReadOnly = undefined;
    }
    return { recursiveReadOnlyMounts, userNamespaces: false };
  }

  // Containers share whatever host namespaces the pod asks for.
  admitPod(): void {}

  startPod(pod: PodSandbox): Promise<PodHandlerState> {
    return this.pods.start(pod);
  }

  restorePods(pods: RestoredPod[]): Promise<string[]> {
    return this.pods.restore(pods);
  }

  // Everything conmon runs belongs to a pod.
  async shutdown(): Promise<void> {}

  podAlive(podId: string): boolean {
    return this.pods.looksAlive(podId);
  }

  podContainerContext(podId: string): PodContainerContext {
    return this.pods.containerContext(podId);
  }

  podUsage(podId: string): Promise<CgroupUsage> {
    return this.pods.usage(podId);
  }

  async updatePodResources(podId: string, resources: PodResources): Promise<void> {
    await setPodCgroupLimits(this.pods.cgroupPath(podId), podCgroupLimits(resources));
  }

  stopPod(podId: string): Promise<void> {
    return this.pods.stop(podId);
  }

  removePod(podId: string): Promise<void> {
    return this.pods.remove(podId);
  }

  async createContainer(options: CreateOptions): Promise<void> {
    await this.runtime.create(options);
  }

  startContainer(id: string): Promise<void> {
    return this.runtime.start(id);
  }

  stopContainer(id: string, signal: string, timeoutMs: number): Promise<void> {
    return this.runtime.stop(id, signal, timeoutMs);
  }

  removeContainer(id: string): Promise<void> {
    return this.runtime.delete(id);
  }

  containerState(id: string): Promise<ContainerRuntimeState> {
    return this.runtime.state(id);
  }

  containerPid(id: string): Promise<number> {
    return this.runtime.pid(id);
  }

  execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    return this.runtime.execSync(id, cmd, timeoutMs);
  }

  exec(id: string, cmd: string[], io: StreamIO): Promise<number> {
    return this.runtime.exec(id, cmd, io);
  }

  attach(id: string, io: StreamIO): Promise<void> {
    return this.runtime.attach(id, io);
  }

  async portForward(podId: string, connection: ForwardedConnection): Promise<void> {
    return forwardPort(podId, this.pods.namespaces(podId).network, connection);
  }

  // The OCI runtime put the container in the cgroup its spec named, on this host.
  async containerUsage(_id: string, cgroupsPath: string): Promise<CgroupUsage> {
    return (await hostStatsReader()).usage(runcCgroupDir(cgroupsPath));
  }

  reopenLog(id: string): Promise<void> {
    return this.runtime.reopenLog(id);
  }

  updateResources(id: string, limits: ContainerLimits): Promise<void> {
    return this.runtime.updateResources(id, limits);
  }

  pendingExits(): Promise<ContainerExit[]> {
    return this.runtime.pendingExits();
  }

  watchExits(onExit: (exit: ContainerExit) => void): () => void {
    return this.runtime.watchExits(onExit);
  }

  watchPodDeaths(onDeath: (podId: string) => void): () => void {
    return this.pods.watchDeaths(onDeath);
  }
}
