import type { OciHandlerConfig } from '../config/config';
import { checkRequiredFiles } from './handler-readiness';
import type { HandlerFeatures, HandlerReadiness, PodSandboxInfo, RuntimeHandler } from './runtime-handler';

/** Containers run by an OCI runtime (runc, crun), each watched by its own conmon. */
export class ConmonHandler implements RuntimeHandler {
  readonly type = 'oci';
  readonly features: HandlerFeatures = { recursiveReadOnlyMounts: false, userNamespaces: false };

  constructor(
    readonly name: string,
    private readonly config: OciHandlerConfig,
  ) {}

  readiness(): Promise<HandlerReadiness> {
    return checkRequiredFiles(this.name, [
      { role: 'runtime', path: this.config.runtime_path, executable: true },
      { role: 'conmon', path: this.config.monitor_path, executable: true },
    ]);
  }

  // Containers run straight in the pod's pinned namespaces: a pod alone needs no process here.
  async startPod(_pod: PodSandboxInfo): Promise<void> {}

  async stopPod(_podId: string): Promise<void> {}

  async removePod(_podId: string): Promise<void> {}
}
