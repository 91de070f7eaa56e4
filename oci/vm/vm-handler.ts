import { join } from 'node:path';
import type { VmHandlerConfig } from '../../config/config';
import { NamespaceMode, type PodSandboxConfig } from '../../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../../system/errors';
import type { Logger } from '../../system/logger';
import type { CgroupUsage } from '../cgroups/cgroup-usage';
import { checkRequiredFiles } from '../handler-readiness';
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
import { handlerAccelerator } from './accelerator-probe';
import { kernelCommandLine } from './kernel-params';
import type { VmSettings } from './vm-boot';
import { VmContainers } from './vm-containers';
import { VmPods } from './vm-pods';
import { VmPortForwards } from './vm-port-forwards';
import { podVmSize } from './vm-size';

const HOST_NAMESPACE_OPTIONS = [
  ['network', 'hostNetwork'],
  ['pid', 'hostPID'],
  ['ipc', 'hostIPC'],
] as const;

/** Each pod in a lightweight QEMU virtual machine with our guest agent, as Kata does. */
export class VmHandler implements RuntimeHandler {
  readonly type = 'vm';
  readonly usesPodNetwork = true;

  private readonly pods: VmPods;
  private readonly containers: VmContainers;
  private readonly ports: VmPortForwards;
  private settings: Promise<VmSettings> | undefined;
  private readonly logger: Logger;

  constructor(
    readonly name: string,
    private readonly config: VmHandlerConfig,
    environment: HandlerEnvironment,
  ) {
    const dir = join(environment.runroot, 'handlers', name);
    this.logger = environment.logger;
    this.containers = new VmContainers(join(dir, 'containers'), () => this.pods, environment.logger);
    this.ports = new VmPortForwards(environment.logger);
    this.pods = new VmPods(dir, () => this.vmSettings(), config.warm_clones, environment.logger, { ...this.containers.listeners, ...this.ports.listeners });
  }

  readiness(): Promise<HandlerReadiness> {
    return checkRequiredFiles(this.name, [
      { role: 'qemu', path: this.config.qemu_path, executable: true },
      { role: 'kernel', path: this.config.kernel_path, executable: false },
      { role: 'initramfs', path: this.config.initrd_path, executable: false },
      { role: 'guest root', path: this.config.guest_root, executable: false },
    ]);
  }

  /** The accelerator is probed once, at the first pod, since a probe boots a VM. */
  private vmSettings(): Promise<VmSettings> {
    this.settings ??= (async () => {
      const { config } = this;
      const accelerator = await handlerAccelerator(config);
      this.logger.info('VM accelerator chosen', { handler: this.name, configured: config.accelerator, accelerator });
      return {
        qemuPath: config.qemu_path,
        kernelPath: config.kernel_path,
        initrdPath: config.initrd_path,
        guestRoot: config.guest_root,
        accelerator,
        vcpus: config.vcpus,
        memoryMiB: config.memory_mib,
        kernelCommandLine: kernelCommandLine(config.kernel_params),
        template: config.template,
      };
    })();
    this.settings.catch(() => (this.settings = undefined));
    return this.settings;
  }

  // Recursive read-only binds would have to hold through the shared filesystem into the guest,
  // which is not made or tested; user namespaces need ID-mapped mounts, which are not made either.
  async features(): Promise<HandlerFeatures> {
    return { recursiveReadOnlyMounts: false, userNamespaces: false };
  }

  // A VM is its own network, PID and IPC namespace: it cannot share the host's. And it must fit the host.
  admitPod(config: PodSandboxConfig): void {
    const options = config.linux?.securityContext?.namespaceOptions;
    const shared = HOST_NAMESPACE_OPTIONS.filter(([field]) => options?.[field] === NamespaceMode.NODE).map(([, name]) => name);
    if (shared.length > 0) {
      throw new InvalidArgumentError(`${shared.join(', ')}: a pod of runtime handler "${this.name}" runs in its own VM and cannot share the host's namespaces`);
    }
    // Its VM's size, refused now when the host cannot hold it.
    podVmSize(config, { vcpus: this.config.vcpus, memoryMiB: this.config.memory_mib });
  }

  startPod(pod: PodSandbox): Promise<PodHandlerState> {
    return this.pods.start(pod);
  }

  // The containers first: reconnecting, an agent sends again the output they wrote meanwhile.
  async restorePods(pods: RestoredPod[]): Promise<string[]> {
    await this.containers.restore(new Set(pods.map(({ pod }) => pod.id)));
    return this.pods.restore(pods);
  }

  podAlive(podId: string): boolean {
    return this.pods.looksAlive(podId);
  }

  podContainerContext(podId: string): PodContainerContext {
    return this.pods.containerContext(podId);
  }

  podUsage(podId: string): Promise<CgroupUsage> {
    return this.pods.usage(podId);
  }

  shutdown(): Promise<void> {
    return this.pods.shutdown();
  }

  // The VM is the pod's limit: its cgroup on the host holds QEMU, whose own memory the pod's
  // resources do not count, so only the VM's size follows them.
  updatePodResources(podId: string, resources: PodResources): Promise<void> {
    return this.pods.updatePodResources(podId, resources, this.containers.limitsIn(podId));
  }

  stopPod(podId: string): Promise<void> {
    return this.pods.stop(podId);
  }

  removePod(podId: string): Promise<void> {
    return this.pods.remove(podId);
  }

  createContainer(options: CreateOptions): Promise<void> {
    return this.containers.create(options);
  }

  startContainer(id: string): Promise<void> {
    return this.containers.start(id);
  }

  stopContainer(id: string, signal: string, timeoutMs: number): Promise<void> {
    return this.containers.stop(id, signal, timeoutMs);
  }

  removeContainer(id: string): Promise<void> {
    return this.containers.remove(id);
  }

  containerState(id: string): Promise<ContainerRuntimeState> {
    return this.containers.state(id);
  }

  containerPid(id: string): Promise<number> {
    return this.containers.pid(id);
  }

  execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    return this.containers.execSync(id, cmd, timeoutMs);
  }

  exec(id: string, cmd: string[], io: StreamIO): Promise<number> {
    return this.containers.exec(id, cmd, io);
  }

  attach(id: string, io: StreamIO): Promise<void> {
    return this.containers.attach(id, io);
  }

  async portForward(podId: string, connection: ForwardedConnection): Promise<void> {
    return this.ports.forward(podId, this.pods.agent(podId), connection);
  }

  reopenLog(id: string): Promise<void> {
    return this.containers.reopenLog(id);
  }

  containerUsage(id: string): Promise<CgroupUsage> {
    return this.containers.usage(id);
  }

  updateResources(id: string, limits: ContainerLimits): Promise<void> {
    return this.containers.updateResources(id, limits);
  }

  pendingExits(): Promise<ContainerExit[]> {
    return this.containers.pendingExits();
  }

  watchExits(onExit: (exit: ContainerExit) => void): () => void {
    return this.containers.watchExits(onExit);
  }

  watchPodDeaths(onDeath: (podId: string) => void): () => void {
    return this.pods.watchDeaths(onDeath);
  }
}
