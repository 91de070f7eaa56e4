import { access } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { InternalError, NotFoundError } from '../../system/errors';
import { runTool, runToolChecked } from '../../system/run-tool';

// The pod's network plumbing for its VM, done inside the pod's persistent network namespace.
// `ip -n`/`ip -netns` (and tc's) take only a name under /var/run/netns (an absolute path is
// appended to that directory), while CNI namespaces may be bind-mounted anywhere; nsenter takes
// any path, and enters only the network namespace.

/** A route of the pod's namespace; `destination` is CIDR or `default`, `gateway` '' when on-link. */
export interface PodRoute {
  destination: string;
  gateway: string;
  device: string;
}

/** The pod's CNI interface as the guest is to take it over, with the namespace's routes. */
export interface PodInterface {
  mac: string;
  mtu: number;
  /** CIDR notation, IPv4 and IPv6; link-local ones are left out (the guest makes its own). */
  addresses: string[];
  /** The main table's routes of both families, but those to link-local destinations. */
  routes: PodRoute[];
}

export interface TapNames {
  tapName: string;
  ifname: string;
}

const TOOL_TIMEOUT_MS = 15_000;
// Our redirect filters sit at this priority on each device's ingress, so they can be found,
// replaced and removed without touching filters others put there.
const FILTER_PREF = '49000';
const INGRESS = ['parent', 'ffff:'];

function inNetns(netns: string, file: string, args: string[]): Promise<string> {
  return runToolChecked('nsenter', [`--net=${netns}`, '--', file, ...args], { timeoutMs: TOOL_TIMEOUT_MS });
}

function netnsExists(netns: string): Promise<boolean> {
  return access(netns).then(
    () => true,
    () => false,
  );
}

async function requireNetns(netns: string): Promise<void> {
  if (!(await netnsExists(netns))) throw new NotFoundError(`network namespace ${netns} does not exist`);
}

/** Whether a link exists in the namespace; any other failure of `ip` is an error. */
async function linkExists(netns: string, name: string): Promise<boolean> {
  const outcome = await runTool('nsenter', [`--net=${netns}`, '--', 'ip', 'link', 'show', 'dev', name], { timeoutMs: TOOL_TIMEOUT_MS });
  if (outcome.exitCode === 0) return true;
  if (/does not exist|cannot find device/i.test(outcome.stderr)) return false;
  throw new InternalError(`cannot look up ${name} in ${netns}: ${outcome.stderr.trim() || `exit status ${outcome.exitCode ?? 'none'}`}`);
}

interface IpLink {
  address?: string;
  mtu?: number;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

function isLinkLocal(destination: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(destination) || destination.startsWith('169.254.');
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new InternalError(`cannot parse ${what}: ${text.slice(0, 200)}`);
  }
}

async function readRoutes(netns: string, family: '-4' | '-6'): Promise<PodRoute[]> {
  const routes = parseJson<IpRoute[]>(await inNetns(netns, 'ip', [family, '-j', 'route', 'show', 'table', 'main']), `the routes of ${netns}`);
  return routes
    .filter((route) => !isLinkLocal(route.dst))
    .map((route) => ({ destination: route.dst, gateway: route.gateway ?? '', device: route.dev ?? '' }));
}

/** The CNI interface's MAC, MTU and addresses, and the namespace's routes. */
export async function readPodInterface(netns: string, ifname = 'eth0'): Promise<PodInterface> {
  await requireNetns(netns);
  if (!(await linkExists(netns, ifname))) throw new NotFoundError(`network namespace ${netns} has no interface ${ifname}`);
  const [links, routes4, routes6] = await Promise.all([
    inNetns(netns, 'ip', ['-j', 'address', 'show', 'dev', ifname]),
    readRoutes(netns, '-4'),
    readRoutes(netns, '-6'),
  ]);
  const [link] = parseJson<IpLink[]>(links, `the addresses of ${ifname} in ${netns}`);
  if (link?.address === undefined || link.mtu === undefined) throw new InternalError(`interface ${ifname} in ${netns} has no MAC address or MTU`);
  const addresses = (link.addr_info ?? [])
    .filter((info) => (info.family === 'inet' || info.family === 'inet6') && info.scope !== 'link' && info.scope !== 'host')
    .map((info) => `${info.local}/${info.prefixlen}`);
  return { mac: link.address, mtu: link.mtu, addresses, routes: [...routes4, ...routes6] };
}

interface TcFilter {
  pref: number;
  options?: { actions?: { kind: string; to_dev?: string }[] };
}

/** Where our filter on `device`'s ingress redirects to: a device name, '*' once that device is gone, or undefined with no filter of ours. */
async function ourRedirect(netns: string, device: string): Promise<string | undefined> {
  const filters = parseJson<TcFilter[]>(await inNetns(netns, 'tc', ['-j', 'filter', 'show', 'dev', device, ...INGRESS]), `the filters of ${device} in ${netns}`);
  const ours = filters.filter((filter) => String(filter.pref) === FILTER_PREF);
  if (ours.length === 0) return undefined;
  const mirred = ours.flatMap((filter) => filter.options?.actions ?? []).find((action) => action.kind === 'mirred');
  return mirred?.to_dev ?? '';
}

/** Sends every frame arriving on `from` out of `to`; one already there is kept, a stale one replaced. */
async function redirect(netns: string, from: string, to: string): Promise<void> {
  // `replace` adds the ingress qdisc or keeps the one there, with its filters.
  await inNetns(netns, 'tc', ['qdisc', 'replace', 'dev', from, 'ingress']);
  const current = await ourRedirect(netns, from);
  if (current === to) return;
  if (current !== undefined) await inNetns(netns, 'tc', ['filter', 'del', 'dev', from, ...INGRESS, 'pref', FILTER_PREF]);
  await inNetns(netns, 'tc', [
    'filter', 'add', 'dev', from, ...INGRESS, 'pref', FILTER_PREF, 'protocol', 'all',
    'u32', 'match', 'u32', '0', '0',
    'action', 'mirred', 'egress', 'redirect', 'dev', to,
  ]);
}

/** Removes our filter from `device`'s ingress, and the ingress qdisc once no filter is left on it. */
async function removeRedirect(netns: string, device: string): Promise<void> {
  if (!(await linkExists(netns, device))) return;
  const qdiscs = parseJson<{ kind: string }[]>(await inNetns(netns, 'tc', ['-j', 'qdisc', 'show', 'dev', device]), `the qdiscs of ${device} in ${netns}`);
  if (!qdiscs.some((qdisc) => qdisc.kind === 'ingress')) return;
  if ((await ourRedirect(netns, device)) !== undefined) await inNetns(netns, 'tc', ['filter', 'del', 'dev', device, ...INGRESS, 'pref', FILTER_PREF]);
  const left = parseJson<unknown[]>(await inNetns(netns, 'tc', ['-j', 'filter', 'show', 'dev', device, ...INGRESS]), `the filters of ${device} in ${netns}`);
  if (left.length === 0) await inNetns(netns, 'tc', ['qdisc', 'del', 'dev', device, 'ingress']);
}

/**
 * Kata's tcfilter model: a TAP for QEMU in the pod's network namespace, and tc mirred redirects
 * that pass every frame between it and the CNI interface, so the guest's NIC (given the CNI
 * interface's MAC and addresses) is the pod on the pod network. Safe to redo after a crash part
 * way: a TAP already there is reused and filters already in place are kept.
 */
export async function connectTap(netns: string, names: TapNames = { tapName: 'tap0_pv', ifname: 'eth0' }): Promise<void> {
  const { tapName, ifname } = names;
  const { mtu } = await readPodInterface(netns, ifname);
  if (!(await linkExists(netns, tapName))) await inNetns(netns, 'ip', ['tuntap', 'add', 'dev', tapName, 'mode', 'tap']);
  await inNetns(netns, 'ip', ['link', 'set', 'dev', tapName, 'mtu', String(mtu), 'up']);
  await redirect(netns, ifname, tapName);
  await redirect(netns, tapName, ifname);
}

/** Removes the redirects and the TAP, leaving the CNI interface as CNI made it; a namespace or TAP already gone is fine. */
export async function disconnectTap(netns: string, tapName: string, ifname = 'eth0'): Promise<void> {
  if (!(await netnsExists(netns))) return;
  await removeRedirect(netns, ifname);
  // Deleting the TAP takes its ingress qdisc and filter with it.
  if (await linkExists(netns, tapName)) await inNetns(netns, 'ip', ['link', 'delete', 'dev', tapName]);
}

/** A TAP in the host's namespace, for a warm VM that waits for a pod. */
export async function addHostTap(name: string): Promise<void> {
  await runToolChecked('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap'], { timeoutMs: TOOL_TIMEOUT_MS });
}

/** Removes a TAP from the host's namespace; one already gone is fine. */
export async function deleteHostTap(name: string): Promise<void> {
  const outcome = await runTool('ip', ['link', 'delete', 'dev', name], { timeoutMs: TOOL_TIMEOUT_MS });
  if (outcome.exitCode !== 0 && !/does not exist|cannot find device/i.test(outcome.stderr)) {
    throw new InternalError(`cannot delete ${name}: ${outcome.stderr.trim() || `exit status ${outcome.exitCode ?? 'none'}`}`);
  }
}

/** The name `ip link set netns` knows a namespace by: it looks only under /var/run/netns. */
export function netnsName(netns: string): string | undefined {
  return ['/var/run/netns', '/run/netns'].includes(dirname(netns)) ? basename(netns) : undefined;
}

/**
 * Moves a warm VM's TAP, QEMU still attached to it, into the pod's namespace under the name a
 * pod's TAP has; connectTap then joins it to the CNI interface.
 */
export async function moveTapIntoPod(hostTap: string, netns: string, names: TapNames): Promise<void> {
  const name = netnsName(netns);
  if (name === undefined) throw new InternalError(`network namespace ${netns} is not under /var/run/netns, where ip finds namespaces by name`);
  await runToolChecked('ip', ['link', 'set', 'dev', hostTap, 'netns', name], { timeoutMs: TOOL_TIMEOUT_MS });
  await inNetns(netns, 'ip', ['link', 'set', 'dev', hostTap, 'name', names.tapName]);
}
