import type { HandlerType } from '../config/config';

export interface HandlerReadiness {
  ready: boolean;
  /** Why it is not ready; empty when it is. */
  message: string;
}

export interface HandlerFeatures {
  recursiveReadOnlyMounts: boolean;
  userNamespaces: boolean;
}

/**
 * One way of running pods, chosen per pod by RunPodSandbox's runtime_handler (the
 * RuntimeClass handler): conmon + an OCI runtime, or a VM per pod. The server only ever talks
 * to this interface, never to runc or QEMU directly.
 */
export interface RuntimeHandler {
  readonly name: string;
  readonly type: HandlerType;
  readonly features: HandlerFeatures;
  /** Whether pods can run on it now: its programs and files are present and usable. */
  readiness(): Promise<HandlerReadiness>;
}
