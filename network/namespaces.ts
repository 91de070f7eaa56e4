import { mkdir, open, realpath, rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isId } from '../system/ids';
import { errorCode } from '../system/error-code';
import { readMountInfo } from '../system/mountinfo';
import { AlreadyExistsError, InternalError, InvalidArgumentError, errorMessage } from '../system/errors';
import { runTool, runToolChecked } from '../system/run-tool';
import { settle } from '../system/settle';
import { sysctlNamespace, sysctlPath, validateSysctls } from './sysctls';
import { isHostname } from '../system/hostname';

export interface NamespaceRequest {
  podId: string;
  runroot: string;
  network: boolean;
  ipc: boolean;
  uts: boolean;
  hostname: string;
  sysctls: Record<string, string>;
}

/** Bind-mounted namespace file paths; an absent one means the pod uses the host's namespace. */
export interface PodNamespaces {
  network?: string;
  ipc?: string;
  uts?: string;
}

type NamespaceKind = keyof PodNamespaces;

// Where `ip netns` looks, so an operator can inspect a pod's network with the usual tools.
export const NETNS_DIR = '/var/run/netns';

// unshare, nsenter and umount act on the kernel directly and finish in milliseconds; a slow
// one is stuck, not busy.
const TOOL_TIMEOUT_MS = 10_000;

// unshare(1) and nsenter(1) spell each namespace the same way.
const NAMESPACE_FLAG: Record<NamespaceKind, string> = { network: '--net', ipc: '--ipc', uts: '--uts' };

/** The netns name `ip netns` shows for a pod. */
export function netnsName(podId: string): string {
  return `podvisor-${podId.slice(0, 16)}`;
}

/** Where the namespaces pinPodNamespaces makes will be pinned, known before it runs. */
export function plannedPodNamespaces(request: Pick<NamespaceRequest, 'podId' | 'runroot' | 'network' | 'ipc' | 'uts'>): PodNamespaces {
  const files: PodNamespaces = {};
  if (request.network) files.network = join(NETNS_DIR, netnsName(request.podId));
  if (request.ipc) files.ipc = join(request.runroot, 'ns', 'ipc', request.podId);
  if (request.uts) files.uts = join(request.runroot, 'ns', 'uts', request.podId);
  return files;
}

function entriesOf(namespaces: PodNamespaces): Array<[NamespaceKind, string]> {
  const entries: Array<[NamespaceKind, string]> = [];
  for (const kind of ['network', 'ipc', 'uts'] as const) {
    const file = namespaces[kind];
    if (file !== undefined) entries.push([kind, file]);
  }
  return entries;
}

/** A namespace can only be bound onto an existing file; an existing one means the pod has it already. */
async function createMountTarget(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  try {
    await (await open(file, 'wx', 0o444)).close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AlreadyExistsError(`namespace file ${file} exists already`);
    }
    throw error;
  }
}

function enter(kind: NamespaceKind, file: string, command: string[]): string[] {
  return [`${NAMESPACE_FLAG[kind]}=${file}`, '--', ...command];
}

/** Writes one /proc/sys value as seen from inside the namespace. */
async function writeInside(kind: NamespaceKind, file: string, path: string, value: string): Promise<string | undefined> {
  const outcome = await runTool('nsenter', enter(kind, file, ['tee', path]), { timeoutMs: TOOL_TIMEOUT_MS, input: value });
  return outcome.exitCode === 0 ? undefined : outcome.stderr.trim() || `exit status ${outcome.exitCode ?? 'none'}`;
}

async function applySysctls(namespaces: PodNamespaces, sysctls: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(sysctls)) {
    const kind = sysctlNamespace(name);
    const file = namespaces[kind];
    if (file === undefined) throw new InternalError(`sysctl "${name}" needs the pod's own ${kind} namespace`);
    const failure = await writeInside(kind, file, sysctlPath(name), value);
    if (failure !== undefined) throw new InvalidArgumentError(`cannot set sysctl "${name}" to "${value}": ${failure}`);
  }
}

/** Builds the namespaces into `made`, recording each file as soon as it exists so a failure can undo exactly that. */
async function setUp(request: NamespaceRequest, planned: PodNamespaces, made: PodNamespaces): Promise<void> {
  const entries = entriesOf(planned);
  if (entries.length === 0) return;
  for (const [kind, file] of entries) {
    await createMountTarget(file);
    made[kind] = file;
  }
  // unshare binds each new namespace onto its file before running the command, so they outlive
  // it: the pod needs no process of its own to keep them. The command runs inside them, so a
  // new network namespace gets its loopback up in the same step.
  const flags = entries.map(([kind, file]) => `${NAMESPACE_FLAG[kind]}=${file}`);
  const command = made.network === undefined ? ['true'] : ['ip', 'link', 'set', 'lo', 'up'];
  await runToolChecked('unshare', [...flags, '--', ...command], { timeoutMs: TOOL_TIMEOUT_MS });
  // The hostname is in the UTS namespace and no sysctl is, so neither waits for the other.
  await settle([setHostname(made, request.hostname), applySysctls(made, request.sysctls)]);
}

async function setHostname(namespaces: PodNamespaces, hostname: string): Promise<void> {
  if (namespaces.uts === undefined) return;
  const failure = await writeInside('uts', namespaces.uts, '/proc/sys/kernel/hostname', hostname);
  if (failure !== undefined) throw new InternalError(`cannot set hostname "${hostname}": ${failure}`);
}

/**
 * Creates the pod's own network, IPC and UTS namespaces (those asked for), pinned to files so
 * no process has to live in them, with the hostname, loopback and sysctls set. On any failure
 * it removes what it made before throwing.
 */
export async function pinPodNamespaces(request: NamespaceRequest): Promise<PodNamespaces> {
  if (!isId(request.podId)) throw new InvalidArgumentError(`pod ID "${request.podId}" is not 64 lowercase hex characters`);
  validateSysctls(request.sysctls, { hostNetwork: !request.network, hostIpc: !request.ipc });
  if (request.uts && !isHostname(request.hostname)) throw new InvalidArgumentError(`hostname "${request.hostname}" is not a valid hostname`);
  const made: PodNamespaces = {};
  try {
    await setUp(request, plannedPodNamespaces(request), made);
  } catch (error) {
    try {
      await releasePodNamespaces(made);
    } catch (cleanupError) {
      throw new InternalError(`${errorMessage(error)}; removing the namespaces made so far failed too: ${errorMessage(cleanupError)}`);
    }
    throw error;
  }
  return made;
}

// statfs(2) f_type of a namespace file that is bound onto its pin.
const NSFS_MAGIC = 0x6e736673;

/**
 * Whether a namespace is bound onto `file`. A pin whose file was made but not yet bound (a
 * crash in between) is an empty file, which CNI plugins must not be asked to enter.
 */
export async function isPinned(file: string): Promise<boolean> {
  try {
    return (await statfs(file)).type === NSFS_MAGIC;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/** The real path of a namespace file, as mountinfo names it (/var/run is a symlink to /run); undefined once it is gone. */
async function realFile(file: string): Promise<string | undefined> {
  try {
    return await realpath(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Unmounts and removes the pod's namespace files; anything already gone counts as done. One
 * umount takes them all, each named once per bind stacked on it (a retried pin stacks more).
 */
export async function releasePodNamespaces(namespaces: PodNamespaces): Promise<void> {
  const files = entriesOf(namespaces).map(([, file]) => file);
  if (files.length === 0) return;
  const [reals, mounts] = await Promise.all([Promise.all(files.map(realFile)), readMountInfo()]);
  const targets = reals.flatMap((real) => (real === undefined ? [] : mounts.filter((mount) => mount.mountPoint === real).map(() => real)));
  if (targets.length > 0) await runToolChecked('umount', targets, { timeoutMs: TOOL_TIMEOUT_MS });
  await settle(files.map((file) => rm(file, { force: true })));
}
