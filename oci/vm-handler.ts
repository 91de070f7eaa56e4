import type { VmHandlerConfig } from '../config/config';
import { checkRequiredFiles } from './handler-readiness';
import { FailedPreconditionError } from '../system/errors';
import type { HandlerFeatures, HandlerReadiness, PodSandboxInfo, RuntimeHandler } from './runtime-handler';

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
  async startPod(pod: PodSandboxInfo): Promise<void> {
    throw new FailedPreconditionError(`runtime handler "${this.name}" (vm) cannot run pod ${pod.id}: VM pods are not built yet`);
  }

  async stopPod(_podId: string): Promise<void> {}

  async removePod(_podId: string): Promise<void> {}
}
