import type { VmHandlerConfig } from '../config/config';
import { checkRequiredFiles } from './handler-readiness';
import type { HandlerFeatures, HandlerReadiness, RuntimeHandler } from './runtime-handler';

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
}
