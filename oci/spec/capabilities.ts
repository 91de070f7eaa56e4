import type { Capability } from '../../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../../system/errors';
import type { OciCapabilities } from './oci-types';

/** Every capability Linux 6.x knows, in number order. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const KNOWN = new Set(ALL_CAPABILITIES);
const ALL = 'ALL';

/** A capability as the kernel names it: the CRI (like Kubernetes) leaves off CAP_ and may use any case. */
function canonical(name: string, field: string): string {
  const upper = name.toUpperCase();
  if (upper === ALL) return ALL;
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!KNOWN.has(full)) throw new InvalidArgumentError(`${field}: unknown capability "${name}"`);
  return full;
}

/**
 * The default set with the CRI's additions and removals. "ALL" among the drops empties the set
 * before anything is added, so drop ALL + add X leaves exactly X; "ALL" among the adds grants
 * everything before individual drops apply. A privileged container holds every capability
 * `available` has (the runtime's own bounding set; every capability by default).
 * Inheritable stays empty, so capabilities never pass to programs that did not ask for them
 * through file capabilities; ambient ones are raised only when the CRI asks.
 */
export function containerCapabilities(
  defaults: readonly string[],
  requested: Capability | undefined,
  privileged: boolean,
  available: readonly string[] = ALL_CAPABILITIES,
): OciCapabilities {
  const add = (requested?.addCapabilities ?? []).map((name) => canonical(name, 'add_capabilities'));
  const drop = (requested?.dropCapabilities ?? []).map((name) => canonical(name, 'drop_capabilities'));
  const ambient = (requested?.addAmbientCapabilities ?? []).map((name) => canonical(name, 'add_ambient_capabilities'));
  let set: Set<string>;
  // "All" can only mean all the runtime itself holds: asking runc for more fails the create.
  if (privileged) set = new Set(available);
  else {
    set = new Set(drop.includes(ALL) ? [] : defaults.map((name) => canonical(name, 'default capabilities')));
    for (const name of add.includes(ALL) ? available : add) set.add(name);
    for (const name of drop) set.delete(name);
  }
  for (const name of ambient) {
    if (name === ALL || !set.has(name)) throw new InvalidArgumentError(`add_ambient_capabilities: "${name}" is not among the container's capabilities`);
  }
  const list = ALL_CAPABILITIES.filter((name) => set.has(name));
  const capabilities: OciCapabilities = { bounding: list, effective: list, permitted: list };
  if (ambient.length > 0) {
    capabilities.inheritable = ambient;
    capabilities.ambient = ambient;
  }
  return capabilities;
}
