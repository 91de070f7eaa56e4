import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../system/errors';

const PREFIX = /^(0|[1-9][0-9]{0,2})$/;

/** Why `cidr` is not an IPv4 or IPv6 network in CIDR notation, or undefined when it is one. */
function cidrProblem(cidr: string): string | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0) return 'has no prefix length';
  const address = cidr.slice(0, slash);
  const prefix = cidr.slice(slash + 1);
  const bits = isIPv4(address) ? 32 : isIPv6(address) ? 128 : 0;
  if (bits === 0) return `"${address}" is not an IPv4 or IPv6 address`;
  if (!PREFIX.test(prefix) || Number(prefix) > bits) return `prefix length "${prefix}" is not between 0 and ${bits}`;
  return undefined;
}

/**
 * The node's pod CIDRs as the kubelet sends them: one, or an IPv4 and an IPv6 one joined by a
 * comma on a dual-stack node. InvalidArgument names the first that is not a CIDR.
 */
export function parsePodCidrs(value: string): string[] {
  const cidrs = value.split(',').map((part) => part.trim());
  for (const cidr of cidrs) {
    const problem = cidrProblem(cidr);
    if (problem !== undefined) throw new InvalidArgumentError(`pod CIDR "${cidr}" is not a CIDR: ${problem}`);
  }
  return cidrs;
}
