import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import type { LinuxSeccomp } from './seccomp-types';
import { SecurityProfile_ProfileType, type SecurityProfile } from '../proto/gen/cri-api-v1';
import { errorCode } from '../system/error-code';
import { InvalidArgumentError, errorMessage } from '../system/errors';
import runtimeDefaultJson from './runtime-default.json';
import { checkSeccompProfile, parseSeccompProfile, toLinuxSeccomp, type SeccompProfileFile } from './seccomp-profile-file';

export interface SeccompOptions {
  /** kubelet's seccomp directory; relative Localhost references are looked up below it. */
  seccompProfileRoot: string;
  /** The container's bounding capabilities: some rules of a profile only apply with a capability. */
  capabilities: readonly string[];
  /** Privileged containers run without a filter whatever they ask for. */
  privileged: boolean;
  /** Node's process.arch; the host's unless a test says otherwise. */
  arch?: string;
  /** The kernel release rules' minKernel is compared with; the running one's unless a test says otherwise. */
  kernelRelease?: string;
}

// Per Node arch: Go's name for it, which profiles' `arches` conditions use, and the ABIs the
// filter must list, native first, or calls through the others would skip it (an x86_64 kernel
// also runs i386 and x32 code).
const HOST_ARCHES: Record<string, { goArch: string; abis: string[] }> = {
  x64: { goArch: 'amd64', abis: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
  ia32: { goArch: '386', abis: ['SCMP_ARCH_X86'] },
  arm64: { goArch: 'arm64', abis: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'] },
  arm: { goArch: 'arm', abis: ['SCMP_ARCH_ARM'] },
  ppc64: { goArch: 'ppc64le', abis: ['SCMP_ARCH_PPC64LE'] },
  s390x: { goArch: 's390x', abis: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'] },
  riscv64: { goArch: 'riscv64', abis: ['SCMP_ARCH_RISCV64'] },
};

/** The architectures a profile without its own list is applied to on a host of Node arch `arch`. */
export function seccompArchitectures(arch: string = process.arch): string[] {
  return HOST_ARCHES[arch]?.abis ?? [];
}

let runtimeDefault: SeccompProfileFile | undefined;

/** Podvisor's RuntimeDefault profile, checked once like any file a user might give. */
export function runtimeDefaultProfile(): SeccompProfileFile {
  runtimeDefault ??= checkSeccompProfile(runtimeDefaultJson, 'runtime/default (built in)');
  return runtimeDefault;
}

type Choice = { kind: 'unconfined' } | { kind: 'runtime-default' } | { kind: 'localhost'; ref: string };

const LEGACY_LOCALHOST = 'localhost/';

/** What the pre-1.19 annotation strings still sent in seccomp_profile_path mean. */
function legacyChoice(path: string): Choice {
  if (path === '' || path === 'unconfined') return { kind: 'unconfined' };
  if (path === 'runtime/default' || path === 'docker/default') return { kind: 'runtime-default' };
  if (path.startsWith(LEGACY_LOCALHOST)) return { kind: 'localhost', ref: path.slice(LEGACY_LOCALHOST.length) };
  throw new InvalidArgumentError(`seccomp_profile_path "${path}" is not runtime/default, docker/default, unconfined or localhost/<path>`);
}

function profileChoice(profile: SecurityProfile): Choice {
  switch (profile.profileType) {
    case SecurityProfile_ProfileType.RuntimeDefault:
      return { kind: 'runtime-default' };
    case SecurityProfile_ProfileType.Unconfined:
      return { kind: 'unconfined' };
    case SecurityProfile_ProfileType.Localhost:
      return { kind: 'localhost', ref: profile.localhostRef };
    default:
      throw new InvalidArgumentError(`seccomp profile_type ${profile.profileType} is not RuntimeDefault, Unconfined or Localhost`);
  }
}

/** A Localhost reference as a file: absolute as given, relative below kubelet's seccomp directory and never above it. */
function localhostFile(ref: string, root: string): string {
  if (ref === '') throw new InvalidArgumentError('seccomp profile is Localhost but localhost_ref is empty');
  if (isAbsolute(ref)) return normalize(ref);
  const file = normalize(join(root, ref));
  if (!file.startsWith(`${normalize(root).replace(/\/$/, '')}/`)) {
    throw new InvalidArgumentError(`seccomp localhost_ref "${ref}" leaves the seccomp directory ${root}`);
  }
  return file;
}

async function readLocalhostProfile(file: string): Promise<SeccompProfileFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const why = errorCode(error) === 'ENOENT' ? 'does not exist' : `cannot be read: ${errorMessage(error)}`;
    throw new InvalidArgumentError(`seccomp profile ${file} ${why}`);
  }
  return parseSeccompProfile(text, file);
}

/**
 * The seccomp filter for a container. The structured `profile` wins over the legacy
 * `seccomp_profile_path` string; when neither says anything the container is unconfined, as
 * containerd does (the kubelet sends RuntimeDefault explicitly when it wants it).
 */
export async function seccompFor(profile: SecurityProfile | undefined, legacyPath: string, options: SeccompOptions): Promise<LinuxSeccomp | undefined> {
  if (options.privileged) return undefined;
  const choice = profile === undefined ? legacyChoice(legacyPath) : profileChoice(profile);
  if (choice.kind === 'unconfined') return undefined;
  const file = choice.kind === 'runtime-default' ? runtimeDefaultProfile() : await readLocalhostProfile(localhostFile(choice.ref, options.seccompProfileRoot));
  const arch = options.arch ?? process.arch;
  return toLinuxSeccomp(file, {
    capabilities: options.capabilities,
    goArch: HOST_ARCHES[arch]?.goArch ?? arch,
    architectures: seccompArchitectures(arch),
    kernelRelease: options.kernelRelease ?? release(),
  });
}
