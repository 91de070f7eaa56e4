import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalError } from '../../system/errors';
import { CommandFailedError, runTool } from '../../system/run-tool';

// runc and crun share this command line (global --root and --systemd-cgroup; create, start,
// state, kill, delete --force, update --resources FILE, exec --pid-file), so one wrapper drives
// both. Where they differ is in wording: each call asks for JSON error lines, and the
// patterns below know both runtimes' phrasing.

/** How podvisor reaches one OCI runtime binary and the state directory it keeps. */
export interface RuncTarget {
  runtimePath: string;
  /** `--root`: where the runtime keeps per-container state. */
  root: string;
  systemdCgroup: boolean;
  /** Bounds each call; a runtime that overruns is killed. */
  timeoutMs: number;
}

export interface RuncState {
  status: string;
  pid: number;
}

/** Asks for the runtime's own complaints as JSON lines on stderr, apart from a process's output. */
export const JSON_ERRORS_ARGS = ['--log-format', 'json'];

// `state` of an unknown container: runc says so, crun cannot open the state file.
const NO_SUCH_CONTAINER = /does not exist|\/status`: No such file or directory/;

/** Global flags that must come before every runtime subcommand. */
export function runcGlobalArgs(target: RuncTarget): string[] {
  return ['--root', target.root, ...(target.systemdCgroup ? ['--systemd-cgroup'] : [])];
}

/** The messages of the runtime's own error lines (see JSON_ERRORS_ARGS); other lines are not its. */
export function runtimeErrors(stderr: string): string[] {
  const messages: string[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.level === 'error' && typeof entry.msg === 'string') messages.push(entry.msg);
    } catch {
      // Not a log line of the runtime's.
    }
  }
  return messages;
}

/** The runtime named as it is in a message about one of its calls: "OCI runtime /usr/bin/runc start of container X". */
export function runtimeCall(target: Pick<RuncTarget, 'runtimePath'>, subcommand: string, id: string): string {
  return `OCI runtime ${target.runtimePath} ${subcommand} of container ${id}`;
}

/** Runs one runtime call: `args` starts with the subcommand and ends with the container's ID. */
async function runc(target: RuncTarget, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const outcome = await runTool(target.runtimePath, [...runcGlobalArgs(target), ...JSON_ERRORS_ARGS, ...args], {
    timeoutMs: target.timeoutMs,
    what: runtimeCall(target, args[0], args[args.length - 1]),
  });
  const errors = runtimeErrors(outcome.stderr);
  return { ok: outcome.exitCode === 0, stdout: outcome.stdout, stderr: errors.length > 0 ? errors.join('; ') : outcome.stderr.trim() };
}

function failure(target: RuncTarget, args: string[], stderr: string): CommandFailedError {
  return new CommandFailedError([target.runtimePath, ...args].join(' '), stderr, 1);
}

/** The runtime's view of a container, or undefined when it has no such container. */
export async function runcState(target: RuncTarget, id: string): Promise<RuncState | undefined> {
  const outcome = await runc(target, ['state', id]);
  if (!outcome.ok) {
    if (NO_SUCH_CONTAINER.test(outcome.stderr)) return undefined;
    throw failure(target, ['state', id], outcome.stderr);
  }
  const parsed: unknown = JSON.parse(outcome.stdout);
  if (typeof parsed !== 'object' || parsed === null) throw new InternalError(`runc state ${id}: not a JSON object`);
  const fields = parsed as Record<string, unknown>;
  return { status: String(fields.status), pid: typeof fields.pid === 'number' ? fields.pid : 0 };
}

export async function runcStart(target: RuncTarget, id: string): Promise<void> {
  const outcome = await runc(target, ['start', id]);
  if (!outcome.ok) throw failure(target, ['start', id], outcome.stderr);
}

/** Sends a signal; resolves false when the container has no process left to signal. */
export async function runcKill(target: RuncTarget, id: string, signal: string): Promise<boolean> {
  const outcome = await runc(target, ['kill', id, signal]);
  if (outcome.ok) return true;
  const state = await runcState(target, id);
  if (state === undefined || state.status === 'stopped') return false;
  throw failure(target, ['kill', id, signal], outcome.stderr);
}

/**
 * SIGKILLs every process left in the container's cgroup, as `runc kill --all` does, also after
 * its main process has ended; an unknown container is fine.
 */
export async function runcKillAll(target: RuncTarget, id: string): Promise<void> {
  const outcome = await runc(target, ['kill', '--all', id, 'KILL']);
  if (outcome.ok || (await runcState(target, id)) === undefined) return;
  throw failure(target, ['kill', '--all', id, 'KILL'], outcome.stderr);
}

/** Removes the container's runtime state, killing it first if need be; unknown ids are fine. */
export async function runcDelete(target: RuncTarget, id: string): Promise<void> {
  const outcome = await runc(target, ['delete', '--force', id]);
  if (outcome.ok || (await runcState(target, id)) === undefined) return;
  throw failure(target, ['delete', '--force', id], outcome.stderr);
}

/** Applies new cgroup limits (OCI LinuxResources JSON) to a created or running container. */
export async function runcUpdate(target: RuncTarget, id: string, resources: object): Promise<void> {
  // A file, not stdin: crun opens /dev/stdin, which fails on the socket Node gives a child as its stdin.
  const dir = await mkdtemp(join(tmpdir(), 'podvisor-update-'));
  try {
    const file = join(dir, 'resources.json');
    await writeFile(file, JSON.stringify(resources), { mode: 0o600 });
    const outcome = await runc(target, ['update', '--resources', file, id]);
    if (!outcome.ok) throw failure(target, ['update', id], outcome.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
