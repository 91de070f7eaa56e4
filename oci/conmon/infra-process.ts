import { join } from 'node:path';
import { InternalError, InvalidArgumentError } from '../../system/errors';
import { commandLine, processIds } from '../../system/process-list';
import { readStat } from '../../system/process-stat';
import { runToolChecked } from '../../system/run-tool';
import { type TrackedProcess, stopTrackedProcess } from '../../system/tracked-process';
import { joinPodCgroup } from '../cgroups/pod-cgroup';
import type { PodNamespacePaths } from '../runtime-handler';

export interface InfraProcess extends TrackedProcess {
  /** /proc/<pid>/ns/pid */
  pidNamespace: string;
}

/** Our pause program, built next to the daemon (dist/pause). */
export const PAUSE_PATH = join(__dirname, '..', '..', 'pause');

export interface InfraOptions {
  pauseBinary: string;
  /** Carried in the infra process's arguments, so it can be found by its pod (findInfraProcesses). */
  podId: string;
  /** Pinned namespace files (/run/netns/<name>, ...) the infra process joins; absent ones stay the host's. */
  namespaces: PodNamespacePaths;
  /** The pod cgroup's path, which the infra process joins. */
  cgroupPath?: string;
  /** Set in the pod's UTS namespace, which must then be given. */
  hostname?: string;
}

const LAUNCH_TIMEOUT_MS = 10_000;

/**
 * Starts the pod's infra process as PID 1 of a new PID namespace, inside the given pod
 * namespaces and cgroup. The process is detached (own session, parent gone), so it outlives the
 * daemon; the pid returned is the host's view of it.
 */
export async function startInfraProcess(options: InfraOptions): Promise<InfraProcess> {
  const { network, ipc, uts } = options.namespaces;
  if (options.hostname !== undefined && uts === undefined) {
    throw new InvalidArgumentError(`cannot set hostname "${options.hostname}" without a pod UTS namespace: it would rename the host`);
  }
  const enter = [
    ['--net', network],
    ['--ipc', ipc],
    ['--uts', uts],
  ].flatMap(([flag, path]) => (path === undefined ? [] : [`${flag}=${path}`]));
  const launch = [options.pauseBinary, '-p', options.podId, ...(options.hostname === undefined ? [] : [options.hostname])];
  // nsenter execs the launcher in place (it forks only to enter PID namespaces), so it leaves nothing behind either.
  const output =
    enter.length === 0
      ? await runToolChecked(launch[0], launch.slice(1), { timeoutMs: LAUNCH_TIMEOUT_MS })
      : await runToolChecked('nsenter', [...enter, '--', ...launch], { timeoutMs: LAUNCH_TIMEOUT_MS });
  const pid = Number(output.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new InternalError(`pod infra launcher printed "${output.trim()}", not a pid`);
  const stat = await readStat(pid);
  if (stat === undefined) throw new InternalError(`pod infra process ${pid} exited as soon as it started`);
  const infra: InfraProcess = { pid, pidNamespace: `/proc/${pid}/ns/pid`, startTime: stat.startTime };
  if (options.cgroupPath !== undefined) {
    try {
      await joinPodCgroup(options.cgroupPath, pid);
    } catch (error) {
      await stopInfraProcess(infra).catch(() => undefined);
      throw error;
    }
  }
  return infra;
}

/**
 * The infra processes running for `podId`, found by the arguments they were started with: for
 * a pod whose start was cut short before the pid was recorded.
 */
export async function findInfraProcesses(pauseBinary: string, podId: string): Promise<InfraProcess[]> {
  const found: InfraProcess[] = [];
  for (const pid of await processIds()) {
    const [program, flag, pod] = (await commandLine(pid)) ?? [];
    if (program !== pauseBinary || flag !== '-p' || pod !== podId) continue;
    const stat = await readStat(pid);
    if (stat !== undefined) found.push({ pid, pidNamespace: `/proc/${pid}/ns/pid`, startTime: stat.startTime });
  }
  return found;
}

/** Asks the infra process to exit (SIGTERM), kills it after `timeoutMs`, and returns once it is gone. */
export function stopInfraProcess(infra: InfraProcess, timeoutMs?: number): Promise<void> {
  return stopTrackedProcess(infra, 'pod infra process', timeoutMs);
}
