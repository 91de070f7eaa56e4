import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { errorCode } from '../../system/error-code';
import { InternalError } from '../../system/errors';
import { commandLine, processIds } from '../../system/process-list';
import { type TrackedProcess, stopTrackedProcess, trackProcess } from '../../system/tracked-process';
import { joinPodCgroup } from '../cgroups/pod-cgroup';

export interface QemuLaunch {
  args: string[];
  /** The pod's pinned network namespace, where QEMU opens the pod's TAP; none for a template. */
  netns?: string;
  /** The pod cgroup: the VM is the pod, so the pod pays for it. A template stays in the daemon's. */
  cgroupPath?: string;
  /** QEMU's own messages (a bad option, a missing file) go here. */
  logPath: string;
  /** A saved VM state QEMU reads as its fd 3 (`migrate-incoming fd:3`). */
  incomingState?: string;
}

/** The fd a saved state reaches QEMU as: the first after stdin, stdout and stderr. */
export const INCOMING_STATE_FD = 3;

/**
 * Starts QEMU detached (own session, no pipes to us), so a VM outlives a daemon restart, in
 * the pod's network namespace and cgroup. nsenter enters only the network namespace and then
 * execs QEMU in place: QEMU stays in the daemon's mount namespace, where the pod's shared
 * directory gets the containers' bind mounts later.
 */
export async function launchQemu(qemuPath: string, launch: QemuLaunch): Promise<TrackedProcess> {
  const log = await open(launch.logPath, 'a', 0o600);
  const state = launch.incomingState === undefined ? undefined : await open(launch.incomingState, 'r');
  let pid: number | undefined;
  try {
    const [command, args] = launch.netns === undefined ? [qemuPath, launch.args] : ['nsenter', [`--net=${launch.netns}`, '--', qemuPath, ...launch.args]];
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', log.fd, log.fd, ...(state ? [state.fd] : [])],
    });
    pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (error) => reject(new InternalError(`cannot start ${qemuPath}: ${error.message}`)));
      child.once('spawn', () => resolve(child.pid ?? 0));
    });
    child.unref();
  } finally {
    await Promise.all([log.close(), state?.close()]);
  }
  const tracked = await trackProcess(pid);
  if (tracked === undefined) throw new InternalError(`QEMU (pid ${pid}) exited as soon as it started: ${await qemuMessages(launch.logPath)}`);
  if (launch.cgroupPath === undefined) return tracked;
  try {
    await joinPodCgroup(launch.cgroupPath, pid);
  } catch (error) {
    await stopTrackedProcess(tracked, 'QEMU', 0, undefined);
    throw error;
  }
  return tracked;
}

/** The last lines QEMU wrote about itself, for an error message. */
export async function qemuMessages(logPath: string): Promise<string> {
  try {
    const text = (await readFile(logPath, 'utf8')).trim();
    return text === '' ? 'it printed nothing' : text.split('\n').slice(-5).join(' / ');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 'it printed nothing';
    throw error;
  }
}

/**
 * The QEMU of a pod whose start was cut short before its pid was recorded, found by the pid file
 * in its arguments (also while it is still the nsenter that execs QEMU): a crash at any instant
 * after the spawn leaves nothing running that this cannot find.
 */
export async function findQemuProcesses(pidFile: string): Promise<TrackedProcess[]> {
  const found: TrackedProcess[] = [];
  for (const pid of await processIds()) {
    const args = await commandLine(pid);
    const at = args?.indexOf('-pidfile') ?? -1;
    if (args === undefined || at < 0 || args[at + 1] !== pidFile) continue;
    const tracked = await trackProcess(pid);
    if (tracked) found.push(tracked);
  }
  return found;
}
