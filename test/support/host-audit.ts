// What a test daemon left on the host once every pod it ran was removed through the CRI: for
// that one daemon (its scratch directories, its CNI network, the pods and containers it made),
// namespaces, mounts, cgroups, processes, veths, IP leases, iptables rules and state files. Other
// daemons on the machine (suites running side by side, an operator's) are never reported.
//
// Pods whose RunPodSandbox was cut short never had their ID reach the client, so the audit also
// takes IDs from what the daemon itself wrote (its directories, records, lease files, bundles,
// log lines) and from its processes (conmon names our directories; its cgroup names the pod).
// A pod that left nothing but a network namespace file or a cgroup (both host-wide, named by
// the ID alone) and no trace in any of those cannot be told from another daemon's and is missed.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, readFile, readdir, readlink, realpath, rm, rmdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readMountInfo, type MountEntry } from '../../system/mountinfo';
import { waitUntil } from '../../system/wait-until';
import type { TestDirs } from '../../testbed/daemon-process';
import { bridgePorts, command } from './net-tools';

/** The CNI network a test daemon attaches its pods to, as its conflist gives it. */
export interface AuditNetwork {
  name: string;
  cniVersion: string;
  bridge: string;
  /** host-local's dataDir: leases are files named as IPs in <dataDir>/<name>/. */
  dataDir: string;
  /** The plugin configs in order, for a CNI DEL of what a lost pod left. */
  plugins: Array<Record<string, unknown> & { type: string }>;
}

export interface AuditTarget {
  dirs: TestDirs;
  network: AuditNetwork;
  /** Pods the daemon made, as far as the test knows (any it saw in a response or a list). */
  podIds?: Iterable<string>;
  containerIds?: Iterable<string>;
  /** The daemon's output, every run of it: IDs in its lines (pod_id=...) count as its own. */
  logs?: Iterable<string>;
  /** Processes that are not leftovers, above all the daemon itself while it runs. */
  ignorePids?: Iterable<number | undefined>;
}

export type LeftoverKind = 'netns' | 'mount' | 'cgroup' | 'process' | 'veth' | 'lease' | 'iptables' | 'state';

export interface Leftover {
  kind: LeftoverKind;
  /** The path, process, interface, lease or rule, and what ties it to the daemon. */
  detail: string;
  /** The pod it belongs to, where that is known. */
  podId?: string;
  /** For scrubbing: the paths, pid, interface, or iptables table and line it is. */
  handles: string[];
}

const NETNS_DIR = '/var/run/netns';
const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUPFS_PARENT = 'podvisor';
const SYSTEMD_PARENT = 'podvisor.slice';
const ID_PATTERN = /[0-9a-f]{64}/g;
const ID = /^[0-9a-f]{64}$/;
// The CNI plugins' chains every pod shares; only the ones named for a pod are its own.
const SHARED_CHAINS = new Set(['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-SNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK', 'CNI-FORWARD', 'CNI-ADMIN']);
const CNI_PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
const CNI_TIMEOUT_MS = 30_000;
const KILL_PASSES = 5;
const REAP_WAIT_MS = 10_000;

/** The network of the first conflist in the daemon's CNI config directory. */
export async function auditNetwork(dirs: TestDirs): Promise<AuditNetwork> {
  const files = (await readdir(dirs.cniDir)).filter((file) => /\.(conflist|conf|json)$/.test(file)).sort();
  if (files.length === 0) throw new Error(`no CNI network config in ${dirs.cniDir}`);
  const parsed: unknown = JSON.parse(await readFile(join(dirs.cniDir, files[0]), 'utf8'));
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${files[0]} is not a CNI config`);
  const list = parsed as { name?: unknown; cniVersion?: unknown; plugins?: unknown };
  const plugins = (Array.isArray(list.plugins) ? list.plugins : [parsed]).filter(
    (plugin): plugin is Record<string, unknown> & { type: string } => typeof plugin === 'object' && plugin !== null && typeof (plugin as { type?: unknown }).type === 'string',
  );
  const bridgePlugin = plugins.find((plugin) => plugin.type === 'bridge');
  const ipam = bridgePlugin?.ipam as { dataDir?: unknown } | undefined;
  return {
    name: String(list.name),
    cniVersion: String(list.cniVersion ?? '1.0.0'),
    bridge: typeof bridgePlugin?.bridge === 'string' ? bridgePlugin.bridge : 'cni0',
    dataDir: typeof ipam?.dataDir === 'string' ? ipam.dataDir : '/var/lib/cni/networks',
    plugins,
  };
}

export function netnsName(podId: string): string {
  return `podvisor-${podId.slice(0, 16)}`;
}

function short(id: string): string {
  return id.slice(0, 12);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** `base` joined with each pattern, a `*` part standing for every entry of the directory there. */
async function expand(base: string, pattern: string): Promise<string[]> {
  let paths = [base];
  for (const part of pattern.split('/')) {
    if (part !== '*') {
      paths = paths.map((path) => join(path, part));
      continue;
    }
    const next: string[] = [];
    for (const path of paths) for (const entry of await entries(path)) next.push(join(path, entry));
    paths = next;
  }
  return paths;
}

function idOfEntry(path: string): string | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1).replace(/\.json$/, '');
  return ID.test(name) ? name : undefined;
}

/**
 * Where the daemon keeps per-pod and per-container state, relative to runroot or root: all of
 * it must be gone once no pod exists. `pod` says the entries are named by pod ID.
 */
const STATE_PLACES: Array<{ under: 'runroot' | 'root'; pattern: string; what: string; names: 'pod' | 'container' }> = [
  { under: 'runroot', pattern: 'pods/*', what: 'pod files', names: 'pod' },
  { under: 'runroot', pattern: 'handlers/*/pods/*', what: 'handler pod files', names: 'pod' },
  { under: 'runroot', pattern: 'handlers/*/sockets/*', what: 'VM socket', names: 'pod' },
  { under: 'runroot', pattern: 'ns/*/*', what: 'pinned namespace', names: 'pod' },
  { under: 'runroot', pattern: 'containers/*', what: 'container bundle', names: 'container' },
  { under: 'runroot', pattern: 'handlers/*/containers/*', what: 'conmon directory', names: 'container' },
  { under: 'runroot', pattern: 'handlers/*/exits/*', what: 'exit file', names: 'container' },
  { under: 'runroot', pattern: 'handlers/*/runtime/*', what: 'OCI runtime state', names: 'container' },
  { under: 'root', pattern: 'storage/containers/*', what: 'container root filesystem', names: 'container' },
  { under: 'root', pattern: 'pods/*', what: 'pod record', names: 'pod' },
  { under: 'root', pattern: 'containers/*', what: 'container record', names: 'container' },
  { under: 'root', pattern: 'removed/containers/*', what: 'removed container record', names: 'container' },
];

interface ProcessView {
  pid: number;
  args: string[];
  comm: string;
  state: string;
  cgroup: string;
  namespaces: string[];
}

async function readProcess(pid: number): Promise<ProcessView | undefined> {
  const [cmdline, stat, cgroup] = await Promise.all([readOptional(`/proc/${pid}/cmdline`), readOptional(`/proc/${pid}/stat`), readOptional(`/proc/${pid}/cgroup`)]);
  if (stat === undefined) return undefined;
  const close = stat.lastIndexOf(')');
  const namespaces = await Promise.all(['net', 'ipc', 'uts'].map((kind) => readlink(`/proc/${pid}/ns/${kind}`).catch(() => '')));
  return {
    pid,
    args: (cmdline ?? '').split('\0').filter((arg) => arg !== ''),
    comm: stat.slice(stat.indexOf('(') + 1, close),
    state: stat.slice(close + 2).split(' ')[0],
    cgroup: cgroup ?? '',
    namespaces: namespaces.filter((link) => link !== ''),
  };
}

async function listProcessViews(): Promise<ProcessView[]> {
  const pids = (await entries('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const views = await Promise.all(pids.map(readProcess));
  return views.filter((view): view is ProcessView => view !== undefined);
}

/** The IDs the audit attributes to the daemon; grows as evidence turns up. */
class Ids {
  readonly pods = new Set<string>();
  readonly containers = new Set<string>();

  addPods(ids: Iterable<string>): void {
    for (const id of ids) if (ID.test(id)) this.pods.add(id);
  }

  addContainers(ids: Iterable<string>): void {
    for (const id of ids) if (ID.test(id)) this.containers.add(id);
  }

  get size(): number {
    return this.pods.size + this.containers.size;
  }
}

function podIdsInCgroupText(text: string): string[] {
  return [...text.matchAll(/\/pod-([0-9a-f]{64})(?=[/\s]|$)/gm)].map((match) => match[1]);
}

function idsAfter(text: string, key: string): string[] {
  // key=<id> in text log lines, "key":"<id>" in JSON ones and records.
  return [...text.matchAll(new RegExp(`${key}"?\\s*[=:]\\s*"?([0-9a-f]{64})`, 'g'))].map((match) => match[1]);
}

/** Gathers every ID the daemon's own files, logs and leases name. */
async function harvestIds(target: AuditTarget, ids: Ids, dataDir: string): Promise<void> {
  ids.addPods(target.podIds ?? []);
  ids.addContainers(target.containerIds ?? []);
  for (const log of target.logs ?? []) {
    ids.addPods(idsAfter(log, 'pod_id'));
    ids.addContainers(idsAfter(log, 'container_id'));
  }
  for (const place of STATE_PLACES) {
    const base = place.under === 'root' ? target.dirs.root : target.dirs.runroot;
    for (const path of await expand(base, place.pattern)) {
      const id = idOfEntry(path);
      if (id !== undefined) (place.names === 'pod' ? ids.pods : ids.containers).add(id);
      if (place.names !== 'container') continue;
      // A container's bundle, conmon cgroup file and record name its pod (its cgroup path, its netns).
      for (const file of [path, join(path, 'config.json'), join(path, 'conmon.cgroup')]) {
        const text = await readOptional(file);
        if (text === undefined) continue;
        ids.addPods(podIdsInCgroupText(text));
        ids.addPods(idsAfter(text, '"podId'));
      }
    }
  }
  // host-local writes the container ID (our pod ID) as a lease file's first line.
  for (const lease of (await entries(dataDir)).filter((entry) => isIP(entry) !== 0)) {
    const holder = (await readOptional(join(dataDir, lease)))?.split(/\s/)[0] ?? '';
    ids.addPods([holder]);
  }
}

interface Scope {
  dirs: string[];
  ids: Ids;
  /** nsfs mounts of the daemon's pods, as `net:[4026532...]`, to know the processes inside them. */
  namespaces: Map<string, string | undefined>;
}

function mentionsDir(arg: string, dirs: string[]): boolean {
  return dirs.some((dir) => arg === dir || arg.includes(`${dir}/`) || arg.endsWith(`=${dir}`));
}

/** Why a process is the daemon's, or undefined if it is not. */
function processTie(view: ProcessView, scope: Scope): { why: string; podId?: string } | undefined {
  for (const id of scope.ids.pods) {
    if (view.cgroup.includes(`/pod-${id}`) || view.cgroup.includes(`pod${id}.slice`)) return { why: `in the cgroup of pod ${short(id)}`, podId: id };
  }
  for (const link of view.namespaces) {
    if (scope.namespaces.has(link)) {
      const podId = scope.namespaces.get(link);
      return { why: `in the pinned namespace ${link}${podId === undefined ? '' : ` of pod ${short(podId)}`}`, podId };
    }
  }
  for (const arg of view.args) {
    if (mentionsDir(arg, scope.dirs)) return { why: 'its command line names the daemon\'s directories' };
    for (const id of scope.ids.pods) if (arg.includes(id) || arg.includes(netnsName(id))) return { why: `its command line names pod ${short(id)}`, podId: id };
    for (const id of scope.ids.containers) if (arg.includes(id)) return { why: `its command line names container ${short(id)}` };
  }
  return undefined;
}

function describeProcess(view: ProcessView): string {
  const args = view.args.length > 0 ? view.args.join(' ') : `[${view.comm}]`;
  return `pid ${view.pid} ${args.length > 200 ? `${args.slice(0, 200)}...` : args}`;
}

/** The pod ID a path or line names, among the known ones. */
function podNamed(text: string, ids: Ids): string | undefined {
  for (const id of ids.pods) if (text.includes(id) || text.includes(netnsName(id))) return id;
  return undefined;
}

/** Chain names the CNI plugins derive from the network and container ID (plugins/pkg/utils). */
function cniChainNames(network: string, podId: string): string[] {
  const hash = createHash('sha512').update(network + podId).digest('hex');
  return [`CNI-${hash}`.slice(0, 28), `CNI-DN-${hash}`.slice(0, 28)];
}

async function iptablesLeftovers(network: string, ids: Ids): Promise<Leftover[]> {
  const text = await command('iptables-save', []).catch(() => '');
  const lines = text.split('\n');
  const found: Leftover[] = [];
  const ownChains = new Map<string, string>();
  for (const id of ids.pods) for (const chain of cniChainNames(network, id)) ownChains.set(chain, id);
  // A rule naming a pod (CNI comments its rules with the container ID) and the pod chains it jumps to.
  for (const line of lines) {
    const podId = podNamed(line, ids);
    if (podId === undefined || !line.startsWith('-A ')) continue;
    const jump = /-j (CNI-[A-Za-z0-9-]+)/.exec(line)?.[1];
    if (jump !== undefined && !SHARED_CHAINS.has(jump)) ownChains.set(jump, podId);
  }
  let table = '';
  for (const line of lines) {
    if (line.startsWith('*')) table = line.slice(1);
    const chain = line.startsWith(':') ? line.slice(1).split(' ')[0] : line.startsWith('-A ') ? line.split(' ')[1] : undefined;
    const podId = podNamed(line, ids) ?? (chain === undefined ? undefined : ownChains.get(chain));
    if (podId === undefined || (!line.startsWith('-A ') && !line.startsWith(':'))) continue;
    const what = line.startsWith(':') ? `chain ${chain}` : line;
    found.push({ kind: 'iptables', detail: `${table}: ${what} (pod ${short(podId)})`, podId, handles: [table, line] });
  }
  return found;
}

function cgroupRoots(mounts: MountEntry[]): string[] {
  const seen = new Set<string>();
  const roots: string[] = [];
  for (const mount of mounts) {
    if (mount.root !== '/' || (mount.fsType !== 'cgroup' && mount.fsType !== 'cgroup2') || seen.has(mount.device)) continue;
    seen.add(mount.device);
    roots.push(mount.mountPoint);
  }
  return roots;
}

/** One line per pod cgroup path, naming the hierarchies it is left in (a v1 host has a dozen). */
async function cgroupLeftovers(mounts: MountEntry[], ids: Ids): Promise<Leftover[]> {
  const found: Leftover[] = [];
  const roots = cgroupRoots(mounts);
  for (const id of ids.pods) {
    // cgroupfs: /podvisor/pod-<id> in every hierarchy (v1 controllers, name=systemd, unified or
    // the v2 root); systemd: a slice nested in podvisor.slice.
    for (const path of [join(CGROUPFS_PARENT, `pod-${id}`), join(SYSTEMD_PARENT, `podvisor-pod${id}.slice`)]) {
      const dirs: string[] = [];
      const children = new Set<string>();
      let procs = 0;
      for (const root of roots) {
        const dir = join(root, path);
        if (!(await exists(dir))) continue;
        dirs.push(dir);
        for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          if (entry.isDirectory()) children.add(entry.name.replace(ID_PATTERN, (hex) => `${short(hex)}…`));
        }
        procs = Math.max(procs, ((await readOptional(join(dir, 'cgroup.procs'))) ?? '').split('\n').filter((line) => line !== '').length);
      }
      if (dirs.length === 0) continue;
      const hierarchies = dirs.map((dir) => dir.slice(0, -path.length - 1)).map((root) => (root === CGROUP_ROOT ? root : root.slice(root.lastIndexOf('/') + 1)));
      const holds = children.size === 0 ? '' : `; holds ${[...children].sort().join(' ')}`;
      found.push({ kind: 'cgroup', detail: `/${path} in ${hierarchies.join(',')} (${procs} processes${holds})`, podId: id, handles: dirs });
    }
  }
  return found;
}

/** Everything of the daemon's still on the host. */
export async function findLeftovers(target: AuditTarget): Promise<Leftover[]> {
  const { dirs, network } = target;
  const dataDir = join(network.dataDir, network.name);
  const ids = new Ids();
  await harvestIds(target, ids, dataDir);

  const ownDirs = new Set<string>();
  for (const dir of [dirs.dir, dirs.root, dirs.runroot]) {
    ownDirs.add(dir);
    ownDirs.add(await realpath(dir).catch(() => dir));
  }
  const netnsDirs = [NETNS_DIR, await realpath(NETNS_DIR).catch(() => NETNS_DIR)];
  const mounts = await readMountInfo();
  const ignored = new Set([process.pid, ...[...(target.ignorePids ?? [])].filter((pid): pid is number => pid !== undefined)]);

  // Processes: two passes, as one found by our directories (conmon) names its pod in its cgroup.
  // A zombie has exited and holds nothing but its pid until its parent reaps it; a pod's infra
  // process is reparented to init (or a subreaper), which may take its time.
  const views = (await listProcessViews()).filter((view) => !ignored.has(view.pid) && view.state !== 'Z');
  const scope: Scope = { dirs: [...ownDirs], ids, namespaces: new Map() };
  let tied: Array<{ view: ProcessView; why: string; podId?: string }> = [];
  for (let pass = 0; pass < 3; pass++) {
    const before = ids.size;
    const netnsFiles = new Map<string, string>();
    for (const id of ids.pods) for (const dir of netnsDirs) netnsFiles.set(join(dir, netnsName(id)), id);
    scope.namespaces.clear();
    for (const mount of mounts) {
      if (mount.fsType !== 'nsfs') continue;
      const podId = netnsFiles.get(mount.mountPoint) ?? (mentionsDir(mount.mountPoint, scope.dirs) ? podNamed(mount.mountPoint, ids) ?? '' : undefined);
      if (podId !== undefined) scope.namespaces.set(mount.root, podId === '' ? undefined : podId);
    }
    tied = views.flatMap((view) => {
      const tie = processTie(view, scope);
      return tie === undefined ? [] : [{ view, ...tie }];
    });
    for (const { view } of tied) {
      ids.addPods(podIdsInCgroupText(view.cgroup));
      const cid = view.args.indexOf('--cid');
      if (cid >= 0 && view.args[cid + 1] !== undefined) ids.addContainers([view.args[cid + 1]]);
    }
    if (ids.size === before) break;
  }

  const found: Leftover[] = [];
  for (const id of ids.pods) {
    const file = join(NETNS_DIR, netnsName(id));
    if (!(await exists(file))) continue;
    const real = await realpath(file).catch(() => file);
    const mounted = mounts.some((mount) => mount.mountPoint === real || mount.mountPoint === file);
    found.push({ kind: 'netns', detail: `${file} (${mounted ? 'mounted' : 'not mounted'}, pod ${short(id)})`, podId: id, handles: [file] });
  }

  const netnsFiles = new Set([...ids.pods].flatMap((id) => netnsDirs.map((dir) => join(dir, netnsName(id)))));
  for (const mount of mounts) {
    if (!netnsFiles.has(mount.mountPoint) && ![...ownDirs].some((dir) => mount.mountPoint === dir || mount.mountPoint.startsWith(`${dir}/`))) continue;
    const podId = podNamed(mount.mountPoint, ids);
    found.push({ kind: 'mount', detail: `${mount.mountPoint} (${mount.fsType}${podId === undefined ? '' : `, pod ${short(podId)}`})`, podId, handles: [mount.mountPoint] });
  }

  found.push(...(await cgroupLeftovers(mounts, ids)));

  for (const { view, why, podId } of tied) {
    found.push({ kind: 'process', detail: `${describeProcess(view)}: ${why}`, podId, handles: [String(view.pid)] });
  }

  for (const port of await bridgePorts(network.bridge)) {
    found.push({ kind: 'veth', detail: `${port} on bridge ${network.bridge}`, handles: [port] });
  }

  for (const lease of (await entries(dataDir)).filter((entry) => isIP(entry) !== 0)) {
    const holder = (await readOptional(join(dataDir, lease)))?.split(/\s/)[0] ?? '';
    const podId = ids.pods.has(holder) ? holder : undefined;
    found.push({ kind: 'lease', detail: `${lease} in ${dataDir} (held by ${holder === '' ? 'nobody' : short(holder)})`, podId, handles: [join(dataDir, lease)] });
  }

  found.push(...(await iptablesLeftovers(network.name, ids)));

  for (const place of STATE_PLACES) {
    const base = place.under === 'root' ? dirs.root : dirs.runroot;
    for (const path of await expand(base, place.pattern)) {
      const id = idOfEntry(path);
      found.push({ kind: 'state', detail: `${path} (${place.what})`, podId: place.names === 'pod' ? id : undefined, handles: [path] });
    }
  }
  return found;
}

export function describeLeftover(leftover: Leftover): string {
  return `${leftover.kind}: ${leftover.detail}`;
}

/** What the daemon left on the host, one readable line each; empty when it left nothing. */
export async function hostAudit(target: AuditTarget): Promise<string[]> {
  return (await findLeftovers(target)).map(describeLeftover);
}

/** Leftovers counted by kind, e.g. { netns: 3, mount: 9 }. */
export function countByKind(leftovers: Leftover[]): Partial<Record<LeftoverKind, number>> {
  const counts: Partial<Record<LeftoverKind, number>> = {};
  for (const leftover of leftovers) counts[leftover.kind] = (counts[leftover.kind] ?? 0) + 1;
  return counts;
}

function runPlugin(path: string, stdin: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(path, [], { env, stdio: ['pipe', 'ignore', 'ignore'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), CNI_TIMEOUT_MS);
    child.once('error', () => resolve());
    child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/** CNI DEL of one pod through every plugin of the network, in reverse; failures are ignored. */
async function cniDelete(network: AuditNetwork, podId: string): Promise<void> {
  const netns = join(NETNS_DIR, netnsName(podId));
  const hasNetns = await exists(netns);
  for (const plugin of [...network.plugins].reverse()) {
    let binary: string | undefined;
    for (const dir of CNI_PLUGIN_DIRS) if (binary === undefined && (await exists(join(dir, plugin.type)))) binary = join(dir, plugin.type);
    if (binary === undefined) continue;
    await runPlugin(binary, JSON.stringify({ ...plugin, name: network.name, cniVersion: network.cniVersion }), {
      ...process.env,
      CNI_COMMAND: 'DEL',
      CNI_CONTAINERID: podId,
      CNI_NETNS: hasNetns ? netns : '',
      CNI_IFNAME: 'eth0',
      CNI_PATH: CNI_PLUGIN_DIRS.join(':'),
      CNI_ARGS: 'IgnoreUnknown=1',
    });
  }
}

/** Splits an iptables-save rule into arguments, keeping quoted comments whole. */
function ruleArgs(line: string): string[] {
  const args: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) args.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]);
  return args;
}

/**
 * Removes what findLeftovers finds, as far as it can (for a test's afterAll, with its daemon
 * stopped): kills the processes, runs CNI DEL for the pods, unmounts, deletes namespace files,
 * cgroups, veths, rules and state. Returns what is still left afterwards.
 */
export async function removeLeftovers(target: AuditTarget): Promise<string[]> {
  const first = await findLeftovers(target);
  if (first.length === 0) return [];
  const of = (kind: LeftoverKind): Leftover[] => first.filter((leftover) => leftover.kind === kind);

  // Again until none is left: a runtime killed mid-create may still start a process (runc init)
  // after the first look.
  let processes = of('process');
  const killed = new Set<number>();
  for (let pass = 0; pass < KILL_PASSES && processes.length > 0; pass++) {
    for (const leftover of processes) {
      const pid = Number(leftover.handles[0]);
      killed.add(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    await sleep(300);
    processes = (await findLeftovers(target)).filter((leftover) => leftover.kind === 'process');
  }
  // A killed process stays in its cgroup (v1) until its parent, often init, reaps it.
  await waitUntil(async () => [...killed].every((pid) => !existsSync(`/proc/${pid}`)), REAP_WAIT_MS, 100);

  const pods = new Set(first.flatMap((leftover) => (leftover.podId === undefined ? [] : [leftover.podId])));
  for (const id of pods) await cniDelete(target.network, id);

  // Deepest first, so a mount inside another goes before it.
  const mountPoints = of('mount').flatMap((leftover) => leftover.handles).sort((a, b) => b.length - a.length);
  for (const point of mountPoints) await command('umount', [point]).catch(() => command('umount', ['-l', point]).catch(() => undefined));
  for (const path of of('netns').flatMap((leftover) => leftover.handles)) await rm(path, { force: true }).catch(() => undefined);

  for (const veth of of('veth').flatMap((leftover) => leftover.handles)) await command('ip', ['link', 'delete', veth]).catch(() => undefined);
  for (const path of of('lease').flatMap((leftover) => leftover.handles)) await rm(path, { force: true }).catch(() => undefined);

  // Rules that CNI DEL did not take: delete them, then flush and delete the pods' chains.
  const rules = (await findLeftovers(target)).filter((leftover) => leftover.kind === 'iptables');
  for (const rule of rules) {
    const [table, line] = rule.handles;
    if (line.startsWith('-A ')) await command('iptables', ['-t', table, '-D', ...ruleArgs(line).slice(1)]).catch(() => undefined);
  }
  for (const rule of rules) {
    const [table, line] = rule.handles;
    if (!line.startsWith(':')) continue;
    const chain = line.slice(1).split(' ')[0];
    await command('iptables', ['-t', table, '-F', chain]).catch(() => undefined);
    await command('iptables', ['-t', table, '-X', chain]).catch(() => undefined);
  }

  // A cgroup goes once its processes have; children first.
  for (const dir of of('cgroup').flatMap((leftover) => leftover.handles)) await removeCgroupTree(dir);

  for (const path of of('state').flatMap((leftover) => leftover.handles)) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  return hostAudit(target);
}

/** Removes a cgroup and its children; one that still holds processes is left at once. */
async function removeCgroupTree(dir: string): Promise<void> {
  const children = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((entry) => entry.isDirectory());
  for (const child of children) await removeCgroupTree(join(dir, child.name));
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') return;
      if (((await readOptional(join(dir, 'cgroup.procs'))) ?? '').trim() !== '') return;
      // Busy a moment after its last process exited.
      await sleep(100);
    }
  }
}
