import type { LinuxSeccomp, SeccompAction, SeccompArg, SeccompOperator, SeccompSyscall } from './seccomp-types';
import { InvalidArgumentError, errorMessage } from '../system/errors';

/**
 * When a rule applies, as Docker's and containers-common's profiles say it: `includes` keeps a
 * rule only when the container holds every cap, the host is one of the arches (Go's names for
 * them) and the kernel is at least minKernel; `excludes` drops it when any of those holds.
 */
export interface RuleCondition {
  caps?: string[];
  arches?: string[];
  /** "major.minor". */
  minKernel?: string;
}

export interface ProfileSyscall extends SeccompSyscall {
  includes?: RuleCondition;
  excludes?: RuleCondition;
}

/** The ABIs a profile's archMap gives a host whose native one is `architecture`. */
export interface ArchMapEntry {
  architecture: string;
  subArchitectures: string[];
}

/** A seccomp profile as stored on disk, in the format Docker, containers-common and containerd share. */
export interface SeccompProfileFile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: ArchMapEntry[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls: ProfileSyscall[];
}

/** What the rules of a profile are resolved against for one container. */
export interface SeccompTarget {
  capabilities: readonly string[];
  /** The host's architecture in Go's spelling ("amd64"), as profiles' arches name it. */
  goArch: string;
  /** The ABIs to filter when the profile names none for this host: the native one first. */
  architectures: string[];
  /** The running kernel's release ("6.1.0-18-amd64"). */
  kernelRelease: string;
}

const ACTIONS: ReadonlySet<string> = new Set<SeccompAction>([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

const OPERATORS: ReadonlySet<string> = new Set<SeccompOperator>([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);

// A syscall has at most six arguments.
const MAX_ARG_INDEX = 5;

const KERNEL_VERSION = /^(\d+)\.(\d+)/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '');
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** Reads and checks profiles against one source name, so every complaint says which file is wrong. */
class ProfileReader {
  constructor(private readonly source: string) {}

  fail(what: string): never {
    throw new InvalidArgumentError(`seccomp profile ${this.source}: ${what}`);
  }

  action(value: unknown, where: string): SeccompAction {
    if (typeof value !== 'string' || !ACTIONS.has(value)) this.fail(`${where} has unknown action ${JSON.stringify(value)}`);
    return value as SeccompAction;
  }

  // Profiles written by Go programs spell an absent value null.
  optionalCount(value: unknown, where: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isCount(value)) this.fail(`${where} must be a non-negative integer`);
    return value;
  }

  optionalStrings(value: unknown, where: string): string[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isStringList(value)) this.fail(`${where} must be a list of strings`);
    return value;
  }

  optionalString(value: unknown, where: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') this.fail(`${where} must be a string`);
    return value;
  }

  condition(value: unknown, where: string): RuleCondition | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) this.fail(`${where} must be an object`);
    const condition: RuleCondition = {};
    const caps = this.optionalStrings(value.caps, `${where}.caps`);
    if (caps && caps.length > 0) condition.caps = caps;
    const arches = this.optionalStrings(value.arches, `${where}.arches`);
    if (arches && arches.length > 0) condition.arches = arches;
    const minKernel = this.optionalString(value.minKernel, `${where}.minKernel`);
    if (minKernel !== undefined && minKernel !== '') {
      if (!KERNEL_VERSION.test(minKernel)) this.fail(`${where}.minKernel ${JSON.stringify(minKernel)} is not a kernel version like "4.8"`);
      condition.minKernel = minKernel;
    }
    return condition;
  }

  archMapEntry(value: unknown, where: string): ArchMapEntry {
    if (!isObject(value) || typeof value.architecture !== 'string' || value.architecture === '') this.fail(`${where}.architecture must be an architecture name`);
    return { architecture: value.architecture, subArchitectures: this.optionalStrings(value.subArchitectures, `${where}.subArchitectures`) ?? [] };
  }

  arg(value: unknown, where: string): SeccompArg {
    if (!isObject(value)) this.fail(`${where} must be an object`);
    if (!isCount(value.index) || value.index > MAX_ARG_INDEX) this.fail(`${where}.index must be 0 to ${MAX_ARG_INDEX}`);
    if (typeof value.op !== 'string' || !OPERATORS.has(value.op)) this.fail(`${where}.op is unknown: ${JSON.stringify(value.op)}`);
    const arg: SeccompArg = { index: value.index, value: this.optionalCount(value.value, `${where}.value`) ?? 0, op: value.op as SeccompOperator };
    const valueTwo = this.optionalCount(value.valueTwo, `${where}.valueTwo`);
    if (valueTwo !== undefined) arg.valueTwo = valueTwo;
    return arg;
  }

  syscall(value: unknown, where: string): ProfileSyscall {
    if (!isObject(value)) this.fail(`${where} must be an object`);
    // Docker's older profiles name one syscall in `name`.
    const names = [...(this.optionalStrings(value.names, `${where}.names`) ?? []), ...(typeof value.name === 'string' && value.name !== '' ? [value.name] : [])];
    if (names.length === 0) this.fail(`${where} names no syscall`);
    const rule: ProfileSyscall = { names, action: this.action(value.action, where) };
    const errnoRet = this.optionalCount(value.errnoRet, `${where}.errnoRet`);
    if (errnoRet !== undefined) rule.errnoRet = errnoRet;
    if (value.args !== undefined && value.args !== null) {
      if (!Array.isArray(value.args)) this.fail(`${where}.args must be a list`);
      rule.args = value.args.map((arg, index) => this.arg(arg, `${where}.args[${index}]`));
    }
    const includes = this.condition(value.includes, `${where}.includes`);
    if (includes) rule.includes = includes;
    const excludes = this.condition(value.excludes, `${where}.excludes`);
    if (excludes) rule.excludes = excludes;
    return rule;
  }

  profile(value: unknown): SeccompProfileFile {
    if (!isObject(value)) this.fail('is not a JSON object');
    const profile: SeccompProfileFile = { defaultAction: this.action(value.defaultAction, 'defaultAction'), syscalls: [] };
    const defaultErrnoRet = this.optionalCount(value.defaultErrnoRet, 'defaultErrnoRet');
    if (defaultErrnoRet !== undefined) profile.defaultErrnoRet = defaultErrnoRet;
    const architectures = this.optionalStrings(value.architectures, 'architectures');
    if (architectures && architectures.length > 0) profile.architectures = architectures;
    if (value.archMap !== undefined && value.archMap !== null) {
      if (!Array.isArray(value.archMap)) this.fail('archMap must be a list');
      if (profile.architectures) this.fail('gives both architectures and archMap; use one');
      profile.archMap = value.archMap.map((entry, index) => this.archMapEntry(entry, `archMap[${index}]`));
    }
    const flags = this.optionalStrings(value.flags, 'flags');
    if (flags && flags.length > 0) profile.flags = flags;
    const listenerPath = this.optionalString(value.listenerPath, 'listenerPath');
    if (listenerPath) profile.listenerPath = listenerPath;
    const listenerMetadata = this.optionalString(value.listenerMetadata, 'listenerMetadata');
    if (listenerMetadata) profile.listenerMetadata = listenerMetadata;
    const syscalls = value.syscalls ?? [];
    if (!Array.isArray(syscalls)) this.fail('syscalls must be a list');
    profile.syscalls = syscalls.map((rule, index) => this.syscall(rule, `syscalls[${index}]`));
    return profile;
  }
}

/** Checks parsed JSON from `source` is a seccomp profile; InvalidArgumentError naming `source` when not. */
export function checkSeccompProfile(value: unknown, source: string): SeccompProfileFile {
  return new ProfileReader(source).profile(value);
}

/** Checks JSON text from `source` is a seccomp profile; InvalidArgumentError naming `source` when not. */
export function parseSeccompProfile(text: string, source: string): SeccompProfileFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`seccomp profile ${source}: is not valid JSON (${errorMessage(error)})`);
  }
  return checkSeccompProfile(value, source);
}

/** Whether the running kernel is at least `version`; both as "major.minor...". */
function kernelAtLeast(release: string, version: string): boolean {
  const [have, want] = [KERNEL_VERSION.exec(release), KERNEL_VERSION.exec(version)];
  if (!have || !want) return false;
  const [haveMajor, haveMinor, wantMajor, wantMinor] = [have[1], have[2], want[1], want[2]].map(Number);
  return haveMajor !== wantMajor ? haveMajor > wantMajor : haveMinor >= wantMinor;
}

function includesHold(condition: RuleCondition | undefined, target: SeccompTarget, held: ReadonlySet<string>): boolean {
  if (condition === undefined) return true;
  return (
    (condition.caps ?? []).every((cap) => held.has(cap)) &&
    (condition.arches === undefined || condition.arches.includes(target.goArch)) &&
    (condition.minKernel === undefined || kernelAtLeast(target.kernelRelease, condition.minKernel))
  );
}

function excludesHold(condition: RuleCondition | undefined, target: SeccompTarget, held: ReadonlySet<string>): boolean {
  if (condition === undefined) return false;
  return (
    (condition.caps ?? []).some((cap) => held.has(cap)) ||
    (condition.arches ?? []).includes(target.goArch) ||
    (condition.minKernel !== undefined && kernelAtLeast(target.kernelRelease, condition.minKernel))
  );
}

/** The ABIs filtered: the profile's list, else its archMap entry for this host, else the host's. */
function filteredArchitectures(profile: SeccompProfileFile, target: SeccompTarget): string[] {
  if (profile.architectures) return profile.architectures;
  const entry = profile.archMap?.find((candidate) => candidate.architecture === target.architectures[0]);
  return entry ? [entry.architecture, ...entry.subArchitectures] : target.architectures;
}

/** The OCI form of `profile` for one container, its conditional rules resolved against `target`. */
export function toLinuxSeccomp(profile: SeccompProfileFile, target: SeccompTarget): LinuxSeccomp {
  const held = new Set(target.capabilities);
  const seccomp: LinuxSeccomp = {
    defaultAction: profile.defaultAction,
    architectures: filteredArchitectures(profile, target),
    syscalls: profile.syscalls
      .filter((rule) => includesHold(rule.includes, target, held) && !excludesHold(rule.excludes, target, held))
      .map(({ names, action, errnoRet, args }) => ({
        names,
        action,
        ...(errnoRet === undefined ? {} : { errnoRet }),
        ...(args === undefined ? {} : { args }),
      })),
  };
  if (profile.defaultErrnoRet !== undefined) seccomp.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags) seccomp.flags = profile.flags;
  if (profile.listenerPath) seccomp.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) seccomp.listenerMetadata = profile.listenerMetadata;
  return seccomp;
}
