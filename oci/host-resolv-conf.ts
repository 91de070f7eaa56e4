import { readFile } from 'node:fs/promises';
import { unlessAbsent } from '../system/unless-absent';

export const HOST_RESOLV_CONF = '/etc/resolv.conf';
export const RESOLVED_UPSTREAM_CONF = '/run/systemd/resolve/resolv.conf';

function readIfPresent(path: string): Promise<string | undefined> {
  return unlessAbsent(readFile(path, 'utf8'), undefined);
}

function nameservers(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === 'nameserver' && words[1] !== undefined)
    .map((words) => words[1]);
}

// A loopback resolver (systemd-resolved's 127.0.0.53 stub, a local dnsmasq) listens in the
// host's network namespace and cannot be reached from a pod's.
function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/**
 * The resolver configuration a pod without DNS settings of its own inherits from the host: the
 * host's file, or systemd-resolved's list of real upstream servers when the host's file names
 * only loopback stubs. A host with no resolv.conf gives an empty one.
 */
export async function hostResolvConf(path = HOST_RESOLV_CONF, upstreamPath = RESOLVED_UPSTREAM_CONF): Promise<string> {
  const text = (await readIfPresent(path)) ?? '';
  const servers = nameservers(text);
  if (servers.length > 0 && servers.every(isLoopback)) return (await readIfPresent(upstreamPath)) ?? text;
  return text;
}
