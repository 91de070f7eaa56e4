import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError } from '../system/errors';
import type { Logger } from '../system/logger';
import { pathExists } from '../system/path-exists';
import { runToolChecked } from '../system/run-tool';
import { SingleFlight } from '../system/single-flight';
import { defaultProfile } from './default-profile';

export interface AppArmorHost {
  /** The kernel module's switch: "Y" when AppArmor runs. */
  moduleParameter: string;
  /** securityfs's AppArmor directory; its `profiles` file lists what is loaded. */
  securityDir: string;
  parser: string;
}

export const APPARMOR_HOST: AppArmorHost = {
  moduleParameter: '/sys/module/apparmor/parameters/enabled',
  securityDir: '/sys/kernel/security/apparmor',
  parser: '/sbin/apparmor_parser',
};

// Compiling and loading a profile takes well under a second; a parser stuck this long is broken.
const PARSER_TIMEOUT_MS = 30_000;

/** Profile names from securityfs's `profiles` file, whose lines read "name (mode)". */
export function loadedProfileNames(listing: string): Set<string> {
  const names = new Set<string>();
  for (const line of listing.split('\n')) {
    const match = /^(.+) \([a-z]+\)$/.exec(line.trim());
    if (match) names.add(match[1]);
  }
  return names;
}

/**
 * AppArmor on this host: whether the kernel enforces it, and the profiles containers name.
 * Our RuntimeDefault profile is loaded on first use; a localhost profile must already be loaded
 * (by the node's administrator), or the container would run unconfined by surprise.
 */
export class AppArmor {
  private readonly loading = new SingleFlight<void>();

  private constructor(
    readonly enabled: boolean,
    readonly defaultProfileName: string,
    private readonly host: AppArmorHost,
    private readonly logger: Logger,
  ) {}

  static async detect(defaultProfileName: string, logger: Logger, host: AppArmorHost = APPARMOR_HOST): Promise<AppArmor> {
    const parameter = await readFile(host.moduleParameter, 'utf8').catch(() => '');
    const enabled = parameter.startsWith('Y') && (await pathExists(host.securityDir));
    return new AppArmor(enabled, defaultProfileName, host, logger);
  }

  private async loadedProfiles(): Promise<Set<string>> {
    return loadedProfileNames(await readFile(join(this.host.securityDir, 'profiles'), 'utf8'));
  }

  /** Makes sure `profile` is in the kernel before a container is created under it. */
  async prepare(profile: string): Promise<void> {
    if ((await this.loadedProfiles()).has(profile)) return;
    if (profile !== this.defaultProfileName) throw new FailedPreconditionError(`AppArmor profile "${profile}" is not loaded on this host`);
    await this.loading.run(profile, () => this.loadDefault());
  }

  private async loadDefault(): Promise<void> {
    // -r replaces a stale copy of ours; -K keeps the compiled profile out of the system cache.
    await runToolChecked(this.host.parser, ['-Kr'], { input: defaultProfile(this.defaultProfileName), timeoutMs: PARSER_TIMEOUT_MS });
    this.logger.info('apparmor profile loaded', { profile: this.defaultProfileName });
  }

  /** Compiles the default profile without loading it: proves the text is valid AppArmor policy. */
  async checkDefaultProfile(): Promise<void> {
    await runToolChecked(this.host.parser, ['-QK'], { input: defaultProfile(this.defaultProfileName), timeoutMs: PARSER_TIMEOUT_MS });
  }
}
