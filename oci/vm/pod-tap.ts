import { access } from 'node:fs/promises';
import { InternalError } from '../../system/errors';
import { CommandFailedError, runToolChecked } from '../../system/run-tool';

/** The pod's CNI interface as the guest is to take it over, with the namespace's routes. */
export interface PodInterface {
  mac: string;
  mtu: number;
  /** CIDR notation; link-local ones are left out (the guest makes its own). */
  addresses: string[];
  routes: { destination: string; gateway: string }[];
}

const TOOL_TIMEOUT_MS = 15_000;

function inNetns(netns: string, file: string, args: string[]): Promise<string> {
  return runToolChecked('nsenter', [`--net=${netns}`, '--', file, ...args], { timeoutMs: TOOL_TIMEOUT_MS });
}

interface IpAddress {
  address?: string;
  mtu?: number;
  addr_info?: { local: string; prefixlen: number; scope: string }[];
}

interface IpRoute {
  dst: string;
  gateway?: string;
}

function isLinkLocal(destination: string): boolean {
  return destination.startsWith('fe80:') || destination.startsWith('ff00:') || destination.startsWith('169.254.');
}

export async function readPodInterface(netns: string, ifname: string): Promise<PodInterface> {
  const [links, routes4, routes6] = await Promise.all([
    inNetns(netns, 'ip', ['-j', 'address', 'show', 'dev', ifname]),
    inNetns(netns, 'ip', ['-4', '-j', 'route', 'show', 'dev', ifname]),
    inNetns(netns, 'ip', ['-6', '-j', 'route', 'show', 'dev', ifname]).catch(() => '[]'),
  ]);
  const [link] = JSON.parse(links) as IpAddress[];
  if (link?.address === undefined) throw new InternalError(`interface ${ifname} in ${netns} has no MAC address`);
  const addresses = (link.addr_info ?? []).filter((info) => info.scope === 'global').map((info) => `${info.local}/${info.prefixlen}`);
  const routes = [...(JSON.parse(routes4) as IpRoute[]), ...(JSON.parse(routes6 || '[]') as IpRoute[])]
    .filter((route) => !isLinkLocal(route.dst))
    .map((route) => ({ destination: route.dst, gateway: route.gateway ?? '' }));
  return { mac: link.address, mtu: link.mtu ?? 1500, addresses, routes };
}

async function tapExists(netns: string, tapName: string): Promise<boolean> {
  try {
    await inNetns(netns, 'ip', ['link', 'show', 'dev', tapName]);
    return true;
  } catch (error) {
    if (error instanceof CommandFailedError) return false;
    throw error;
  }
}

/** Sends everything arriving on `from` out of `to`, replacing whatever `from` redirected before. */
async function redirect(netns: string, from: string, to: string): Promise<void> {
  await inNetns(netns, 'tc', ['qdisc', 'del', 'dev', from, 'ingress']).catch(() => undefined);
  await inNetns(netns, 'tc', ['qdisc', 'add', 'dev', from, 'ingress']);
  await inNetns(netns, 'tc', ['filter', 'add', 'dev', from, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', to]);
}

/**
 * Kata's tcfilter model: a TAP for QEMU in the pod's network namespace, and tc mirred redirects
 * that pass every frame between it and the CNI interface, so the guest's NIC (given the CNI
 * interface's MAC and addresses) is the pod on the pod network. Safe to redo after a crash.
 */
export async function connectTap(netns: string, names: { tapName: string; ifname: string }): Promise<void> {
  const { tapName, ifname } = names;
  if (!(await tapExists(netns, tapName))) await inNetns(netns, 'ip', ['tuntap', 'add', 'dev', tapName, 'mode', 'tap']);
  const { mtu } = await readPodInterface(netns, ifname);
  await inNetns(netns, 'ip', ['link', 'set', 'dev', tapName, 'mtu', String(mtu), 'up']);
  await redirect(netns, ifname, tapName);
  await redirect(netns, tapName, ifname);
}

/** Removes the TAP and the redirect from the CNI interface; a namespace or TAP already gone is fine. */
export async function disconnectTap(netns: string, names: { tapName: string; ifname: string }): Promise<void> {
  if (!(await access(netns).then(() => true, () => false))) return;
  await inNetns(netns, 'tc', ['qdisc', 'del', 'dev', names.ifname, 'ingress']).catch(() => undefined);
  if (await tapExists(netns, names.tapName)) await inNetns(netns, 'ip', ['link', 'delete', 'dev', names.tapName]);
}
