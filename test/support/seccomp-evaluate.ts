import type { LinuxSeccomp, SeccompArg } from '../../seccomp/seccomp-types';

export interface Verdict {
  action: string;
  errno?: number;
}

function argMatches(rule: SeccompArg, args: readonly number[]): boolean {
  const actual = BigInt(args[rule.index] ?? 0);
  const value = BigInt(rule.value);
  switch (rule.op) {
    case 'SCMP_CMP_EQ':
      return actual === value;
    case 'SCMP_CMP_NE':
      return actual !== value;
    case 'SCMP_CMP_LT':
      return actual < value;
    case 'SCMP_CMP_LE':
      return actual <= value;
    case 'SCMP_CMP_GT':
      return actual > value;
    case 'SCMP_CMP_GE':
      return actual >= value;
    case 'SCMP_CMP_MASKED_EQ':
      return (actual & value) === BigInt(rule.valueTwo ?? 0);
  }
}

/** What the filter does to one call, deciding the way libseccomp does for the rules we write: a matching rule, else the default. */
export function evaluateSeccomp(filter: LinuxSeccomp, syscall: string, args: readonly number[] = []): Verdict {
  for (const rule of filter.syscalls) {
    if (!rule.names.includes(syscall)) continue;
    if (!(rule.args ?? []).every((arg) => argMatches(arg, args))) continue;
    return { action: rule.action, errno: rule.errnoRet };
  }
  return { action: filter.defaultAction, errno: filter.defaultErrnoRet };
}
