import type { Mount } from '../proto/gen/cri-api-v1';
import type { Logger } from '../system/logger';
import { AppArmor } from './apparmor';
import { relabel, selinuxEnabled } from './selinux';

/** The Linux security modules containers are confined by on this host. */
export class HostSecurity {
  private constructor(
    readonly apparmor: AppArmor,
    readonly selinux: boolean,
  ) {}

  static async detect(apparmorProfile: string, logger: Logger): Promise<HostSecurity> {
    const [apparmor, selinux] = await Promise.all([AppArmor.detect(apparmorProfile, logger), selinuxEnabled()]);
    logger.info('host security modules', { apparmor: apparmor.enabled, selinux });
    return new HostSecurity(apparmor, selinux);
  }

  /** The profile RuntimeDefault means here; undefined where AppArmor is off. */
  get apparmorDefaultProfile(): string | undefined {
    return this.apparmor.enabled ? this.apparmor.defaultProfileName : undefined;
  }

  /**
   * Readies the host for a container about to be created: its AppArmor profile loaded, and the
   * mounts that asked for relabelling given its SELinux mount label.
   */
  async prepareContainer(apparmorProfile: string | undefined, mountLabel: string | undefined, mounts: Mount[]): Promise<void> {
    if (apparmorProfile !== undefined) await this.apparmor.prepare(apparmorProfile);
    if (!this.selinux || mountLabel === undefined) return;
    for (const mount of mounts) if (mount.selinuxRelabel) await relabel(mount.hostPath, mountLabel);
  }
}
