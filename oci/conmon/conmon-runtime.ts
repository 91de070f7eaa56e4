import { constants } from 'node:os';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CgroupManager } from '../../config/config';
import { writing } from '../../system/disk-full';
import { DeadlineExceededError, FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError, errorMessage } from '../../system/errors';
import { describeDuration } from '../../system/duration';
import { abandon, launchGated, letGo } from '../../system/gated-launch';
import { killProcessGroup, killProcessTree, signal } from '../../system/kill-helper';
import { makeDirectories } from '../../system/make-directories';
import type { Logger } from '../../system/logger';
import { settle } from '../../system/settle';
import { pathExists } from '../../system/path-exists';
import { resendWhenCaught } from '../../system/resend-when-caught';
import { isTrackedRunning } from '../../system/tracked-process';
import { isProcessRunning, readStat } from '../../system/process-stat';
import { waitUntil } from '../../system/wait-until';
import { relayAttachSocket } from './attach-socket';
import { conmonArgs, conmonPidFile, conmonStderrFile, containerPidFile, oomFile } from './conmon-args';
import { REOPEN_LOG_MESSAGE, controlFifo, forwardResizes, sendControlMessage } from './conmon-control';
import { execWithConmon } from './conmon-exec';
import { conmonCgroupPath, removeConmonCgroup, recordConmonCgroup } from './conmon-cgroup';
import { parseSyncLine } from './conmon-sync';
import { execInContainer } from './container-exec';
import { listExitFiles, readExitFile, waitForExitFile, watchExitFiles } from './exit-files';
import { startFailure } from './start-failure';
import { enterHelperCgroup, makeHelperCgroup } from '../cgroups/pod-cgroup';
import { runcDelete, runcGlobalArgs, runcKill, runcKillAll, runcStart, runcState, runcUpdate, runtimeCall, type RuncTarget } from './runc';
import type { StreamIO } from '../stream-io';
import type { ContainerExit, ContainerLimits, ContainerRuntimeState, CreateOptions, ExecResult, RuntimeStatus } from '../runtime-handler';


export interface ConmonRuntimeOptions {
  runtimePath: string;
  conmonPath: string;
  /** runc's `--root`, e.g. `<runroot>/runc`. */
  runtimeRoot: string;
  exitsDir: string;
  /** Parent of the per-container directories conmon keeps its pid, oom and control files in. */
  persistDir: string;
  logger: Logger;
  cgroupManager: CgroupManager;
  /** Bounds each runtime call, a create through conmon included. */
  runtimeTimeoutMs: number;
}



const POLL_MS = 50;
// How often a stop asks runc whether the container still runs, in case conmon writes no exit file.
const STATE_POLL_MS = 250;
// After SIGKILL the kernel tears the process down promptly; past this something is wrong.
const KILL_WAIT_MS = 10_000;
// How long conmon may take to record an exit runc already reports.
const EXIT_FILE_WAIT_MS = 5_000;

/**
 * Whether conmon for `id` still runs as `pid`. The pid comes from a file that may predate a
 * reboot or outlive conmon, so the command line must name the container too.
 */
async function isConmonRunning(pid: number, id: string): Promise<boolean> {
  if (pid <= 0 || !(await isProcessRunning(pid))) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(id);
}

/** The pid a pid file holds; 0 when it is missing or unreadable. */
async function readPidFile(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return Number.parseInt(text, 10) || 0;
}

/**
 * Kills a conmon that overran its create, with the runtime it waits on. conmon forks away from
 * the process we started (staying in its session) and starts the runtime in a session of its
 * own, so the tree under the pid it recorded goes, then whatever is left of its session.
 */
async function killConmonTree(startedPid: number | undefined, persistDir: string): Promise<void> {
  const conmonPid = await readPidFile(conmonPidFile(persistDir));
  if (conmonPid > 0) await killProcessTree(conmonPid);
  if (startedPid !== undefined) killProcessGroup(startedPid);
}

function runtimeStatus(status: string): RuntimeStatus {
  return status === 'created' || status === 'running' || status === 'stopped' ? status : 'unknown';
}

/**
 * Runs containers with an OCI runtime (runc) under conmon. conmon is started in its own session
 * and outlives podvisord; everything needed to find a container again (runc state, conmon's pid
 * file, exit and oom files) is on disk.
 */
export class ConmonRuntime {
  private readonly target: RuncTarget;
  /** The main pid of each container created since the daemon started, as conmon reported it. */
  private readonly pids = new Map<string, number>();

  constructor(private readonly options: ConmonRuntimeOptions) {
    this.target = {
      runtimePath: options.runtimePath,
      root: options.runtimeRoot,
      systemdCgroup: options.cgroupManager === 'systemd',
      timeoutMs: options.runtimeTimeoutMs,
    };
  }

  private persistDirOf(id: string): string {
    return join(this.options.persistDir, id);
  }

  /** Starts conmon, which runs `runc create`; resolves once the container exists, paused before its entrypoint. */
  async create(create: CreateOptions): Promise<{ pid: number; conmonPid: number }> {
    const persistDir = this.persistDirOf(create.id);
    await writing(`the conmon files of container ${create.id} in ${persistDir}`, () => Promise.all([persistDir, this.options.exitsDir, this.options.runtimeRoot].map((dir) => makeDirectories(dir))));
    // An exit file left by an earlier container of this ID would read as this one's exit.
    await rm(join(this.options.exitsDir, create.id), { force: true });
    const args = conmonArgs({
      ...create,
      runtimePath: this.options.runtimePath,
      runtimeArgs: runcGlobalArgs(this.target),
      systemdCgroup: this.target.systemdCgroup,
      exitsDir: this.options.exitsDir,
      persistDir,
    });
    // CRI-O's conmon_cgroup = "pod". A systemd pod would need a scope unit; conmon stays put there.
    const path = this.options.cgroupManager === 'cgroupfs' ? conmonCgroupPath(create.podCgroupPath, create.id) : undefined;
    // Made while conmon starts up: it waits on the start pipe until it has been moved in.
    const cgroup = path === undefined ? undefined : { path, made: recordConmonCgroup(persistDir, path).then(() => makeHelperCgroup(path)) };
    // Its failure is met where it is awaited, which may come only after it failed.
    cgroup?.made.catch(() => undefined);
    // Run while conmon waits on the start pipe: it reads the bundle only once let go.
    const beforeStart = async (conmonPid: number): Promise<void> => {
      await settle([cgroup?.made.then(() => enterHelperCgroup(cgroup.path, conmonPid)), create.bundleWritten]);
    };
    try {
      const pid = await this.launchConmon(create.id, args, persistDir, Math.min(create.timeoutMs, this.options.runtimeTimeoutMs), beforeStart);
      const conmonPid = await this.readConmonPid(create.id);
      this.pids.set(create.id, pid);
      this.options.logger.debug('container created', { container_id: create.id, pid, conmon_pid: conmonPid });
      return { pid, conmonPid };
    } catch (error) {
      // discard removes the recorded cgroup: it must not race the making of it.
      await cgroup?.made.catch(() => undefined);
      await this.discard(create.id);
      throw error;
    }
  }

  private async launchConmon(id: string, args: string[], persistDir: string, timeoutMs: number, beforeStart: (conmonPid: number) => Promise<void>): Promise<number> {
    const stderrPath = conmonStderrFile(persistDir);
    const stderr = await open(stderrPath, 'w');
    try {
      // conmon does nothing until it reads the start pipe, so it can be moved first (as podman does).
      // It also drops an `oom` file into its working directory; keep it in the persist dir.
      const conmonPid = await launchGated({ file: this.options.conmonPath, args, cwd: persistDir, env: { _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' }, stderrFd: stderr.fd });
      const describe = async (): Promise<string> => (await readFile(stderrPath, 'utf8').catch(() => '')).trim() || 'no message';
      const overrun = `${runtimeCall(this.target, 'create', id)} (run by conmon) did not answer within ${describeDuration(timeoutMs)}`;
      try {
        await beforeStart(conmonPid);
      } catch (error) {
        // Killed before it reads the start pipe, conmon has started nothing.
        signal(conmonPid, 'SIGKILL');
        await abandon(conmonPid).catch(() => undefined);
        throw error;
      }
      try {
        const line = await letGo(conmonPid, timeoutMs, overrun);
        const message = line === undefined ? undefined : parseSyncLine(line);
        if (message === undefined) throw new InternalError(`conmon exited without creating the container: ${await describe()}`);
        if (message.pid <= 0) {
          const text = message.message ?? (await describe());
          // The program the request (or the image) names: a fault of the request, not ours.
          const failed = startFailure(text);
          if (failed) throw new InvalidArgumentError(`the container's program ${failed.program} cannot be run: ${failed.reason}`);
          throw new InternalError(`creating container: ${text}`);
        }
        return message.pid;
      } catch (error) {
        if (error instanceof DeadlineExceededError) await killConmonTree(conmonPid, persistDir);
        throw error;
      }
    } finally {
      await stderr.close();
    }
  }

  private readConmonPid(id: string): Promise<number> {
    return readPidFile(conmonPidFile(this.persistDirOf(id)));
  }

  /** Tears down whatever a container left: its runc state, its conmon and conmon's cgroup, its files. */
  private async discard(id: string): Promise<void> {
    const endConmon = async (): Promise<void> => {
      const conmonPid = await this.readConmonPid(id);
      // conmon writes the exit file as it sees the container die; removing files first would race it.
      if (!(await waitUntil(async () => !(await isConmonRunning(conmonPid, id)), EXIT_FILE_WAIT_MS, POLL_MS))) process.kill(conmonPid, 'SIGKILL');
      await removeConmonCgroup(this.persistDirOf(id));
    };
    // Once the exit is recorded conmon is leaving by itself, so it is seen off while runc
    // deletes; a container still alive must first be gone, or conmon would wait on it in vain.
    if ((await readExitFile(this.options.exitsDir, id)) !== undefined) await settle([runcDelete(this.target, id), endConmon()]);
    else {
      await runcDelete(this.target, id);
      await endConmon();
    }
    await rm(this.persistDirOf(id), { recursive: true, force: true });
    await rm(join(this.options.exitsDir, id), { force: true });
    this.pids.delete(id);
  }

  /**
   * The container's main pid: the process runc created is the one its start lets run. Known
   * from the create, or read from the pid file conmon keeps for a container made before a
   * restart; 0 when there is none.
   */
  async pid(id: string): Promise<number> {
    return this.pids.get(id) ?? readPidFile(containerPidFile(this.persistDirOf(id)));
  }

  async start(id: string): Promise<void> {
    await runcStart(this.target, id);
  }

  /** Signals the container's first process; a container that is already stopped is no error. */
  async kill(id: string, signal: NodeJS.Signals | number): Promise<void> {
    await this.signal(id, String(signal));
  }

  /**
   * Sends `requested` to the container's first process; false when it has no process left. The
   * process is signalled directly (a runc spawn costs ~15 ms here) when it provably is that
   * process: conmon, reaper of the container and of nothing else, is its parent. Otherwise,
   * and for signals Node cannot name, runc does it.
   */
  private async signal(id: string, requested: string, resendWindowMs = 0): Promise<boolean> {
    const name = requested.startsWith('SIG') ? requested : `SIG${requested}`;
    if (!(name in constants.signals)) return runcKill(this.target, id, requested);
    const [pid, conmonPid] = await Promise.all([this.pid(id), this.readConmonPid(id)]);
    const stat = pid > 0 ? await readStat(pid) : undefined;
    if (stat === undefined || stat.ppid !== conmonPid || !(await isConmonRunning(conmonPid, id))) return runcKill(this.target, id, requested);
    const send = (): boolean => signal(pid, name as NodeJS.Signals);
    if (!send()) return false;
    // A stop right after the start may come before the program has set its handler.
    const sameProcess = (): Promise<boolean> => isTrackedRunning({ pid, startTime: stat.startTime });
    if (resendWindowMs > 0) void resendWhenCaught(pid, constants.signals[name as NodeJS.Signals], sameProcess, send, resendWindowMs);
    return true;
  }

  /**
   * Sends `stopSignal`, waits up to `timeoutMs` for an exit, then SIGKILLs; 0 means SIGKILL at
   * once. For a started container: one that was only created has no exit to wait for.
   */
  async stop(id: string, stopSignal: string, timeoutMs: number): Promise<void> {
    if ((await readExitFile(this.options.exitsDir, id)) !== undefined) return;
    // signal answers false, rather than failing, for a container that has already stopped.
    if (timeoutMs > 0 && (await this.signal(id, stopSignal, timeoutMs)) && (await this.waitForExit(id, timeoutMs))) return;
    await this.signal(id, 'SIGKILL');
    if (!(await this.waitForExit(id, KILL_WAIT_MS))) throw new InternalError(`container ${id} still runs ${KILL_WAIT_MS} ms after SIGKILL`);
  }

  /**
   * Waits until the container has stopped and conmon has recorded its exit code; false when it
   * still runs after `timeoutMs`. conmon's exit file is the prompt answer; runc's state, asked
   * now and then, covers a container whose conmon is gone and will write no file.
   */
  private async waitForExit(id: string, timeoutMs: number): Promise<boolean> {
    const abort = new AbortController();
    try {
      const outcome = await Promise.race([
        waitForExitFile(this.options.exitsDir, id, timeoutMs, abort.signal).then((exit) => (exit === undefined ? 'timeout' : 'recorded')),
        this.untilRuntimeStopped(id, timeoutMs, abort.signal).then((stopped) => (stopped ? 'stopped' : 'timeout')),
      ]);
      if (outcome === 'timeout') return false;
      // runc reports a stop a moment before conmon writes the exit code; callers want both.
      if (outcome === 'stopped' && (await isConmonRunning(await this.readConmonPid(id), id))) await waitForExitFile(this.options.exitsDir, id, EXIT_FILE_WAIT_MS);
      return true;
    } finally {
      abort.abort();
    }
  }

  /** True once runc no longer reports the container running, checked every STATE_POLL_MS; false at the deadline or on abort. */
  private async untilRuntimeStopped(id: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const napped = await sleep(Math.min(STATE_POLL_MS, Math.max(0, deadline - Date.now())), true, { signal }).catch(() => false);
      if (!napped || signal.aborted) return false;
      const state = await runcState(this.target, id);
      if (state === undefined || state.status !== 'running') return true;
      if (Date.now() >= deadline) return false;
    }
  }

  /** Kills the container if need be and removes every trace of it; unknown IDs are fine. */
  async delete(id: string): Promise<void> {
    await this.discard(id);
  }

  async state(id: string): Promise<ContainerRuntimeState> {
    const [exit, oomKilled] = await Promise.all([readExitFile(this.options.exitsDir, id), pathExists(oomFile(this.persistDirOf(id)))]);
    // An exit file is written once the process has ended (create removes any older one), so it
    // answers without asking runc.
    if (exit !== undefined) return { status: 'stopped', pid: 0, exitCode: exit.exitCode, finishedAt: exit.at, oomKilled };
    const runc = await runcState(this.target, id);
    if (runc === undefined) return { status: 'unknown', pid: 0 };
    const status = runtimeStatus(runc.status);
    return { status, pid: status === 'stopped' ? 0 : runc.pid };
  }

  /** Exit files already present: containers that ended while no one was watching. */
  async pendingExits(): Promise<ContainerExit[]> {
    await mkdir(this.options.exitsDir, { recursive: true });
    const exits = await listExitFiles(this.options.exitsDir);
    await Promise.all(exits.map((exit) => this.killRemaining(exit.id)));
    return exits;
  }

  /**
   * What the main process started dies with it, as with the peers: in a PID namespace of its
   * own the kernel sees to that, but in the host's or the pod's the rest of the cgroup would
   * run on until removal. Failing here leaves them to the removal, so it is logged, not thrown.
   */
  private async killRemaining(id: string): Promise<void> {
    await runcKillAll(this.target, id).catch((error: unknown) =>
      this.options.logger.warn('killing what an exited container left failed', { container_id: id, error: errorMessage(error) }),
    );
  }

  /**
   * Calls `onExit` once for each exit conmon records from now on; returns the function that
   * stops watching. Call pendingExits after this: an exit in between may be reported by both.
   */
  watchExits(onExit: (exit: ContainerExit) => void): () => void {
    // Reported once the processes are gone, so an exited container has nothing left running.
    return watchExitFiles(
      this.options.exitsDir,
      (exit) => void this.killRemaining(exit.id).then(() => onExit(exit)),
      (error) => this.options.logger.warn('watching exit files failed', { dir: this.options.exitsDir, error: errorMessage(error) }),
    );
  }

  updateResources(id: string, resources: ContainerLimits): Promise<void> {
    return runcUpdate(this.target, id, resources);
  }

  /** Runs `cmd` in the container and collects its output; see execInContainer. */
  async execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    const pidFile = join(this.persistDirOf(id), `exec-${process.hrtime.bigint()}.pid`);
    return execInContainer(this.target, id, cmd, pidFile, timeoutMs);
  }

  /**
   * conmon makes its attach socket and control FIFO in the bundle, and links the bundle into
   * the socket directory (our persist dir) under the container's ID, so a restarted daemon
   * finds them there.
   */
  private conmonDirOf(id: string): string {
    return join(this.persistDirOf(id), id);
  }

  /** Makes conmon reopen the log file, after the kubelet rotated it away. */
  async reopenLog(id: string): Promise<void> {
    try {
      await sendControlMessage(controlFifo(this.conmonDirOf(id)), REOPEN_LOG_MESSAGE);
    } catch (error) {
      throw new InternalError(`container ${id} has no conmon to reopen its log: ${errorMessage(error)}`);
    }
  }

  private async requireStatus(id: string, allowed: RuntimeStatus[], action: string): Promise<void> {
    const { status } = await this.state(id);
    if (status === 'unknown') throw new NotFoundError(`container ${id} does not exist`);
    if (!allowed.includes(status)) throw new FailedPreconditionError(`cannot ${action} container ${id}: it is ${status}`);
  }

  /** Runs `cmd` in the running container, wired to the client's streams; resolves to its exit code. */
  async exec(id: string, cmd: string[], io: StreamIO): Promise<number> {
    await this.requireStatus(id, ['running'], 'exec in');
    return execWithConmon(
      {
        conmonPath: this.options.conmonPath,
        runtimePath: this.options.runtimePath,
        runtimeArgs: runcGlobalArgs(this.target),
        containerId: id,
        bundleDir: this.conmonDirOf(id),
        // Under the persist dir, so deleting the container removes whatever a session left.
        sessionsDir: join(this.persistDirOf(id), 'exec'),
        logger: this.options.logger,
      },
      cmd,
      io,
    );
  }

  /** Joins the main process's streams through conmon until it exits or io.signal detaches. */
  async attach(id: string, io: StreamIO): Promise<void> {
    await this.requireStatus(id, ['created', 'running'], 'attach to');
    const dir = this.conmonDirOf(id);
    const stopResizes = io.tty && io.resizes !== undefined ? forwardResizes(controlFifo(dir), io.resizes, this.options.logger) : () => undefined;
    try {
      await relayAttachSocket(dir, io, io.signal).finished;
    } finally {
      stopResizes();
    }
  }
}
