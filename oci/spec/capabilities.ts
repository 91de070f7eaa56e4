import type { Capability } from '../../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../../system/errors';
import { ALL_CAPABILITIES } from '../../system/linux-capabilities';
import type { OciCapabilities } from './oci-types';

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
