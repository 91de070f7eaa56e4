import type { VmHandlerConfig } from '../../config/config';
import { checkRequiredFiles } from '../handler-readiness';
import { FailedPreconditionError } from '../../system/errors';
import type { CgroupUsage } from '../cgroups/cgroup-usage';
import type { ForwardedConnection, StreamIO } from '../stream-io';
import type {
  ContainerExit,
  ContainerLimits,
  ContainerRuntimeState,
  CreateOptions,
  ExecResult,
  HandlerFeatures,
  HandlerReadiness,
  PodContainerContext,
  PodHandlerState,
  PodSandbox,
  RestoredPod,
  RuntimeHandler,
} from '../runtime-handler';

/** Each pod in a lightweight QEMU virtual machine with our guest agent, as Kata does. */
export class VmHandler implements RuntimeHandler {
  readonly type = 'vm';
  readonly features: HandlerFeatures = { recursiveReadOnlyMounts: false, userNamespaces: false };

  constructor(
    readonly name: string,
    private readonly config: VmHandlerConfig,
  ) {}

  readiness(): Promise<HandlerReadiness> {
    return checkRequiredFiles(this.name, [
      { role: 'qemu', path: this.config.qemu_path, executable: true },
      { role: 'kernel', path: this.config.kernel_path, executable: false },
    ]);
  }

  // Refused rather than half-done: a pod the kubelet thinks runs in a VM must really do so.
  async startPod(pod: PodSandbox): Promise<PodHandlerState> {
    throw new FailedPreconditionError(`runtime handler "${this.name}" (vm) cannot run pod ${pod.id}: VM pods are not built yet`);
  }

  // No pod can start on this handler yet, so none of its pods or containers can exist: every
  // verb refuses, the idempotent ones succeed, and a recorded pod is dead.
  async restorePods(pods: RestoredPod[]): Promise<string[]> {
    return pods.map(({ pod }) => pod.id);
  }

  async podAlive(_podId: string): Promise<boolean> {
    return false;
  }

  podContainerContext(podId: string): PodContainerContext {
    throw this.missing(podId);
  }

  podUsage(podId: string): Promise<CgroupUsage> {
    return this.refuse(podId);
  }

  async stopPod(_podId: string): Promise<void> {}

  async removePod(_podId: string): Promise<void> {}

  private missing(id: string): FailedPreconditionError {
    return new FailedPreconditionError(`runtime handler "${this.name}" (vm) has no pod or container ${id}: VM pods are not built yet`);
  }

  private refuse(id: string): Promise<never> {
    return Promise.reject(this.missing(id));
  }

  createContainer(options: CreateOptions): Promise<void> {
    return this.refuse(options.id);
  }

  startContainer(id: string): Promise<void> {
    return this.refuse(id);
  }

  async stopContainer(_id: string, _signal: string, _timeoutMs: number): Promise<void> {}

  async removeContainer(_id: string): Promise<void> {}

  containerState(id: string): Promise<ContainerRuntimeState> {
    return this.refuse(id);
  }

  execSync(id: string, _cmd: string[], _timeoutMs: number): Promise<ExecResult> {
    return this.refuse(id);
  }

  exec(id: string, _cmd: string[], _io: StreamIO): Promise<number> {
    return this.refuse(id);
  }

  attach(id: string, _io: StreamIO): Promise<void> {
    return this.refuse(id);
  }

  portForward(podId: string, _connection: ForwardedConnection): Promise<void> {
    return this.refuse(podId);
  }

  containerUsage(id: string, _cgroupsPath: string): Promise<CgroupUsage> {
    return this.refuse(id);
  }

  reopenLog(id: string): Promise<void> {
    return this.refuse(id);
  }

  updateResources(id: string, _limits: ContainerLimits): Promise<void> {
    return this.refuse(id);
  }

  async pendingExits(): Promise<ContainerExit[]> {
    return [];
  }

  watchExits(_onExit: (exit: ContainerExit) => void): () => void {
    return () => undefined;
  }
}
