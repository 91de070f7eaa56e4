import { type LinuxContainerSecurityContext, type SELinuxOption, SecurityProfile_ProfileType } from '../../proto/gen/cri-api-v1';
import { FailedPreconditionError, InvalidArgumentError } from '../../system/errors';

const LEGACY_LOCALHOST = 'localhost/';

type AppArmorChoice = { kind: 'unconfined' } | { kind: 'default' } | { kind: 'named'; name: string };

function appArmorChoice(context: LinuxContainerSecurityContext): AppArmorChoice {
  const profile = context.apparmor;
  if (profile !== undefined) {
    switch (profile.profileType) {
      case SecurityProfile_ProfileType.RuntimeDefault:
        return { kind: 'default' };
      case SecurityProfile_ProfileType.Unconfined:
        return { kind: 'unconfined' };
      case SecurityProfile_ProfileType.Localhost:
        if (profile.localhostRef === '') throw new InvalidArgumentError('apparmor profile is Localhost but localhost_ref is empty');
        return { kind: 'named', name: profile.localhostRef };
      default:
        throw new InvalidArgumentError(`apparmor profile_type ${profile.profileType} is not RuntimeDefault, Unconfined or Localhost`);
    }
  }
  const legacy = context.apparmorProfile;
  if (legacy === '' || legacy === 'unconfined') return { kind: 'unconfined' };
  if (legacy === 'runtime/default') return { kind: 'default' };
  if (legacy.startsWith(LEGACY_LOCALHOST) && legacy.length > LEGACY_LOCALHOST.length) return { kind: 'named', name: legacy.slice(LEGACY_LOCALHOST.length) };
  throw new InvalidArgumentError(`apparmor_profile "${legacy}" is not runtime/default, unconfined or localhost/<name>`);
}

/**
 * The AppArmor profile to run under, or none; `defaultProfile` is the one loaded for
 * RuntimeDefault, undefined where AppArmor is off. Asking for any confinement on a host without
 * AppArmor is refused rather than silently ignored; a privileged container only gets a profile
 * it names.
 */
export function appArmorProfile(context: LinuxContainerSecurityContext | undefined, defaultProfile: string | undefined): string | undefined {
  if (context === undefined) return undefined;
  const choice = appArmorChoice(context);
  if (choice.kind === 'unconfined' || (choice.kind === 'default' && context.privileged)) return undefined;
  if (defaultProfile === undefined) throw new FailedPreconditionError('AppArmor is not enabled on this host');
  return choice.kind === 'default' ? defaultProfile : choice.name;
}

export interface SeLinuxLabels {
  process?: string;
  mount?: string;
}

function label(options: SELinuxOption, role: string, type: string): string {
  return [options.user || 'system_u', role, type, options.level || 's0'].join(':');
}

/** Process and mount labels from the CRI's SELinux options; nothing at all when SELinux is off. */
export function seLinuxLabels(options: SELinuxOption | undefined, enabled: boolean): SeLinuxLabels {
  if (!enabled || options === undefined) return {};
  return { process: label(options, options.role || 'system_r', options.type || 'container_t'), mount: label(options, 'object_r', 'container_file_t') };
}
