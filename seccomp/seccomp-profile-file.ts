import type { LinuxSeccomp, SeccompAction, SeccompArg, SeccompOperator, SeccompSyscall } from './seccomp-types';
import { InvalidArgumentError, errorMessage } from '../system/errors';

/** Capabilities a rule depends on: `requires` keeps it only when all are held, `excludes` drops it when any is. */
export interface CapabilityCondition {
  capabilities: string[];
}

export interface ProfileSyscall extends SeccompSyscall {
  requires?: CapabilityCondition;
  excludes?: CapabilityCondition;
}

/** A seccomp profile as stored on disk: OCI's LinuxSeccomp, architectures optional, rules optionally conditional. */
export interface SeccompProfileFile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls: ProfileSyscall[];
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

  optionalCount(value: unknown, where: string): number | undefined {
    if (value === undefined) return undefined;
    if (!isCount(value)) this.fail(`${where} must be a non-negative integer`);
    return value;
  }

  optionalStrings(value: unknown, where: string): string[] | undefined {
    if (value === undefined) return undefined;
    if (!isStringList(value)) this.fail(`${where} must be a list of strings`);
    return value;
  }

  condition(value: unknown, where: string): CapabilityCondition | undefined {
    if (value === undefined) return undefined;
    if (!isObject(value) || !isStringList(value.capabilities)) this.fail(`${where} must be {"capabilities": [...]}`);
    return { capabilities: value.capabilities };
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
    if (!isStringList(value.names) || value.names.length === 0) this.fail(`${where}.names must be a non-empty list of syscall names`);
    const rule: ProfileSyscall = { names: value.names, action: this.action(value.action, where) };
    const errnoRet = this.optionalCount(value.errnoRet, `${where}.errnoRet`);
    if (errnoRet !== undefined) rule.errnoRet = errnoRet;
    if (value.args !== undefined) {
      if (!Array.isArray(value.args)) this.fail(`${where}.args must be a list`);
      rule.args = value.args.map((arg, index) => this.arg(arg, `${where}.args[${index}]`));
    }
    const requires = this.condition(value.requires, `${where}.requires`);
    if (requires) rule.requires = requires;
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
    if (architectures) profile.architectures = architectures;
    const flags = this.optionalStrings(value.flags, 'flags');
    if (flags) profile.flags = flags;
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

function holdsAll(held: ReadonlySet<string>, condition: CapabilityCondition | undefined): boolean {
  return condition === undefined || condition.capabilities.every((cap) => held.has(cap));
}

function holdsAny(held: ReadonlySet<string>, condition: CapabilityCondition | undefined): boolean {
  return condition !== undefined && condition.capabilities.some((cap) => held.has(cap));
}

/** The OCI form for a container holding `capabilities`, on `architectures` unless the profile names its own. */
export function toLinuxSeccomp(profile: SeccompProfileFile, capabilities: readonly string[], architectures: string[]): LinuxSeccomp {
  const held = new Set(capabilities);
  const seccomp: LinuxSeccomp = {
    defaultAction: profile.defaultAction,
    architectures: profile.architectures ?? architectures,
    syscalls: profile.syscalls
      .filter((rule) => holdsAll(held, rule.requires) && !holdsAny(held, rule.excludes))
      .map(({ names, action, errnoRet, args }) => ({
        names,
        action,
        ...(errnoRet === undefined ? {} : { errnoRet }),
        ...(args === undefined ? {} : { args }),
      })),
  };
  if (profile.defaultErrnoRet !== undefined) seccomp.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags) seccomp.flags = profile.flags;
  return seccomp;
}
