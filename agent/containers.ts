import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { mkdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { basename, join } from 'node:path';
import {
  ContainerStatus,
  ErrorCode,
  OutputStream,
  type ContainerStateResult,
  type ContainerStatsResult,
  type CreateContainerRequest,
  type Event,
  type ExecProcessRequest,
  type ProcessExit,
} from '../proto/gen/agent';
import { AgentError, failedPrecondition, invalid, messageOf, notFound } from './agent-error';
import { deviceNodesBelow } from '../system/device-nodes';
import { resendWhenCaught } from '../system/resend-when-caught';
import { waitUntil } from '../system/wait-until';
import { runProgram } from './run-program';

export interface ContainerPaths {
  /** The OCI runtime in the guest. */
  runc: string;
  /** runc's state directory. */
  runcRoot: string;
  /** Each container's bundle (config.json) goes in a directory of its own here. */
  bundles: string;
  /** Where the guest's cgroup v2 hierarchy is mounted. */
  cgroupRoot: string;
  /** Our helper that runs runc on a new pseudo-terminal (agent/pty/pty-exec.c). */
  ptyExec: string;
}

type Status = 'created' | 'running' | 'stopped';

interface GuestProcess {
  containerId: string;
  /** '' for the container's main process. */
  execId: string;
  status: Status;
  pid: number;
  exitCode: number;
  startedAtMs: number;
  finishedAtMs: number;
  oomKilled: boolean;
  child?: ChildProcess;
  /** Takes "COLUMNS ROWS" lines: the terminal's size, for a process that has one. */
  resize?: Writable;
  pidFile: string;
  closed: Promise<void>;
  markClosed: () => void;
}

interface Container {
  id: string;
  bundle: string;
  stdin: boolean;
  terminal: boolean;
  /** The cgroup runc makes for the container, and the one of ours it sits in (relative to the cgroup root). */
  cgroupsPath: string;
  cgroupParent: string;
  main: GuestProcess;
  execs: Map<string, GuestProcess>;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
// Under TCG runc's create takes a second or two; a start that outlasts this is stuck.
const START_TIMEOUT_MS = 60_000;
const PID_FILE_POLL_MS = 20;
const KILL_WAIT_MS = 10_000;
// How long a kill that found no container waits to see the process's end come in.
const END_WAIT_MS = 5_000;
const END_POLL_MS = 20;
// How long a stop signal a container's PID 1 does not catch yet is watched for, to be sent
// again once it does: the host sends SIGKILL after its stop timeout anyway.
const RESEND_WINDOW_MS = 120_000;
// What of a failed start's stderr goes into the error message.
const START_ERROR_BYTES = 2048;

function exitOf(proc: GuestProcess): ProcessExit {
  const { containerId, execId, exitCode, oomKilled } = proc;
  return { containerId, execId, exitCode, finishedAtMs: BigInt(proc.finishedAtMs), oomKilled };
}

function newProcess(containerId: string, execId: string, pidFile: string): GuestProcess {
  let markClosed = (): void => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  return { containerId, execId, status: 'created', pid: 0, exitCode: 0, startedAtMs: 0, finishedAtMs: 0, oomKilled: false, pidFile, closed, markClosed };
}

function checkId(id: string, what: string): void {
  if (!ID_PATTERN.test(id)) throw invalid(`${what} "${id}" is not a valid ID`);
}

function signalNumber(signal: string): number {
  if (/^\d+$/.test(signal)) return Number(signal);
  const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as keyof typeof constants.signals;
  const number = constants.signals[name];
  if (number === undefined) throw invalid(`"${signal}" is not a signal`);
  return number;
}

const ENV_ENTRY = /^[^=\0]+=[^\0]*$/;

/** runc exec's options for what an exec sets itself; the rest is the container's. */
function execOptions(request: ExecProcessRequest): string[] {
  const bad = request.env.find((entry) => !ENV_ENTRY.test(entry));
  if (bad !== undefined) throw invalid(`exec: environment entry "${bad}" is not KEY=VALUE`);
  if (request.cwd.includes('\0') || (request.cwd !== '' && !request.cwd.startsWith('/'))) throw invalid(`exec: working directory "${request.cwd}" is not absolute`);
  const options = request.env.flatMap((entry) => ['--env', entry]);
  if (request.cwd !== '') options.push('--cwd', request.cwd);
  if (request.user) {
    const { uid, gid, additionalGids } = request.user;
    options.push('--user', `${uid}:${gid}`, ...additionalGids.flatMap((id) => ['--additional-gids', String(id)]));
  }
  return options;
}

async function readPid(pidFile: string): Promise<number | undefined> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * The pod's containers in the guest, each run by runc in the foreground (`runc run`, `runc
 * exec`): runc stays the agent's child and exits with the process's status, which is how the
 * agent learns every exit code (a detached `runc create` would hand the container to PID 1).
 */
/** Signals `pid`; one that is gone already has nothing to receive it. */
function signalProcess(pid: number, signal: number): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export class Containers {
  private readonly containers = new Map<string, Container>();

  constructor(
    private readonly paths: ContainerPaths,
    private readonly emit: (event: Omit<Event, 'seq'>) => void,
    /** Resolves once the host has taken enough of what was emitted for more to follow. */
    private readonly drained: () => Promise<void>,
  ) {}

  private get(id: string): Container {
    const container = this.containers.get(id);
    if (!container) throw notFound(`container ${id} does not exist in the guest`);
    return container;
  }

  private process(containerId: string, execId: string): GuestProcess {
    const container = this.get(containerId);
    if (execId === '') return container.main;
    const exec = container.execs.get(execId);
    if (!exec) throw notFound(`exec ${execId} of container ${containerId} does not exist`);
    return exec;
  }

  async create(request: CreateContainerRequest): Promise<void> {
    const id = request.containerId;
    checkId(id, 'container ID');
    if (this.containers.has(id)) throw new AgentError(ErrorCode.ERROR_CODE_ALREADY_EXISTS, `container ${id} exists already`);
    let spec: { root?: { path?: unknown }; process?: { terminal?: unknown }; linux?: { cgroupsPath?: unknown } & Record<string, unknown> } & Record<string, unknown>;
    try {
      spec = JSON.parse(Buffer.from(request.spec).toString('utf8')) as typeof spec;
    } catch (error) {
      throw invalid(`container ${id}: the spec is not JSON: ${messageOf(error)}`);
    }
    const rootfs = spec.root?.path;
    if (typeof rootfs !== 'string') throw invalid(`container ${id}: the spec names no root filesystem`);
    if ((spec.process?.terminal === true) !== request.terminal) throw invalid(`container ${id}: the spec's process.terminal and the request's terminal differ`);
    if (!(await stat(rootfs).then((info) => info.isDirectory(), () => false))) throw notFound(`container ${id}: root filesystem ${rootfs} is not in the guest`);
    // runc's cgroup goes inside one of ours, which outlives runc removing it when the process
    // ends: the kernel's count of OOM kills there still tells why it ended.
    const cgroupParent = typeof spec.linux?.cgroupsPath === 'string' && spec.linux.cgroupsPath !== '' ? spec.linux.cgroupsPath : `/podvisor/${id}`;
    const cgroupsPath = join(cgroupParent, 'container');
    const bundle = join(this.paths.bundles, id);
    await mkdir(bundle, { recursive: true, mode: 0o700 });
    const devices = request.guestDevices ? { devices: await deviceNodesBelow('/dev') } : {};
    await writeFile(join(bundle, 'config.json'), JSON.stringify({ ...spec, linux: { ...spec.linux, ...devices, cgroupsPath } }), { mode: 0o600 });
    this.containers.set(id, {
      id,
      bundle,
      stdin: request.stdin,
      terminal: request.terminal,
      cgroupsPath,
      cgroupParent,
      main: newProcess(id, '', join(bundle, 'pid')),
      execs: new Map(),
    });
  }

  /** Follows a runc child: its output as events, its exit once its pipes are closed. */
  private follow(proc: GuestProcess, child: ChildProcess, diagnostics: OutputStream, onDiagnostic: (chunk: Buffer) => void): void {
    proc.child = child;
    const pipes = [child.stdout, child.stderr];
    const forward = (stream: OutputStream) => (data: Buffer) => {
      if (stream === diagnostics) onDiagnostic(data);
      this.emit({ output: { containerId: proc.containerId, execId: proc.execId, stream, data, atMs: BigInt(Date.now()) } });
      // The host is away or slow: the process waits to write rather than its output being lost.
      const drained = this.drained();
      pipes.forEach((pipe) => pipe?.pause());
      void drained.then(() => pipes.forEach((pipe) => pipe?.resume()));
    };
    child.stdout?.on('data', forward(OutputStream.OUTPUT_STREAM_STDOUT));
    child.stderr?.on('data', forward(OutputStream.OUTPUT_STREAM_STDERR));
    child.stdin?.on('error', () => undefined);
    child.on('error', () => undefined);
    child.on('close', (code, signal) => {
      proc.exitCode = code ?? 128 + (signal === null ? 0 : signalNumber(signal));
      proc.finishedAtMs = Date.now();
      proc.child = undefined;
      proc.resize = undefined;
      void this.oomKills(proc).then((oomKilled) => {
        proc.oomKilled = oomKilled;
        proc.status = 'stopped';
        this.emit({ exit: exitOf(proc) });
        proc.markClosed();
      });
    });
  }

  /** Waits until runc has written the pid file (the process runs) or has ended (it failed). */
  private async started(proc: GuestProcess): Promise<boolean> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const stopped = proc.status === 'stopped';
      // runc writes the pid file once the process runs; a process that ran and has already
      // ended leaves it too, and only a runc that failed leaves none.
      const pid = await readPid(proc.pidFile);
      if (pid !== undefined) {
        proc.pid = pid;
        await this.execed(pid, deadline);
        return true;
      }
      if (stopped) return false;
      await new Promise((resolve) => setTimeout(resolve, PID_FILE_POLL_MS));
    }
    proc.child?.kill('SIGKILL');
    throw new AgentError(ErrorCode.ERROR_CODE_INTERNAL, `${proc.containerId}: runc did not start the process within ${START_TIMEOUT_MS} ms`);
  }

  /**
   * Waits until runc's init has exec'd the container's program. runc writes the pid file
   * before that, and a stop signal sent meanwhile finds the init, PID 1 of its namespace with no
   * handler for it, and is lost (under TCG the window is wide).
   */
  private async execed(pid: number, deadline: number): Promise<void> {
    const runcName = basename(this.paths.runc);
    const isRuncInit = async (): Promise<boolean> => {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      return argv[1] === 'init' && basename(argv[0]) === runcName;
    };
    await waitUntil(async () => !(await isRuncInit()), deadline - Date.now(), PID_FILE_POLL_MS);
  }

  /**
   * Runs runc in the foreground for the process. With a terminal, runc runs on one of
   * pty-exec's and relays it to the container's console: its output (the process's and
   * runc's own errors) all comes on stdout, and its input stays open until closed.
   */
  private async launch(proc: GuestProcess, args: string[], stdin: boolean, terminal: boolean): Promise<void> {
    await rm(proc.pidFile, { force: true });
    const runc = [this.paths.runc, '--root', this.paths.runcRoot, ...args];
    const child = terminal
      ? spawn(this.paths.ptyExec, runc, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })
      : spawn(runc[0], runc.slice(1), { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    if (terminal) {
      proc.resize = child.stdio[3] as Writable;
      proc.resize.on('error', () => undefined);
    }
    let stderr = Buffer.alloc(0);
    this.follow(proc, child, terminal ? OutputStream.OUTPUT_STREAM_STDOUT : OutputStream.OUTPUT_STREAM_STDERR, (chunk) => {
      if (stderr.length < START_ERROR_BYTES) stderr = Buffer.concat([stderr, chunk]).subarray(0, START_ERROR_BYTES);
    });
    proc.status = 'running';
    proc.startedAtMs = Date.now();
    if (!(await this.started(proc))) {
      throw failedPrecondition(`${proc.containerId}${proc.execId ? ` exec ${proc.execId}` : ''}: runc failed (exit status ${proc.exitCode}): ${stderr.toString('utf8').trim()}`);
    }
  }

  async start(id: string): Promise<void> {
    const container = this.get(id);
    if (container.main.status !== 'created') throw failedPrecondition(`container ${id} is ${container.main.status}, not created`);
    await this.launch(container.main, ['run', '--bundle', container.bundle, '--pid-file', container.main.pidFile, id], container.stdin, container.terminal);
  }

  async exec(request: ExecProcessRequest): Promise<void> {
    const container = this.get(request.containerId);
    checkId(request.execId, 'exec ID');
    if (container.main.status !== 'running') throw failedPrecondition(`container ${container.id} is not running`);
    if (container.execs.has(request.execId)) throw new AgentError(ErrorCode.ERROR_CODE_ALREADY_EXISTS, `exec ${request.execId} exists already`);
    if (request.args.length === 0) throw invalid('exec: no command given');
    const proc = newProcess(container.id, request.execId, join(container.bundle, `exec-${request.execId}.pid`));
    const options = execOptions(request);
    container.execs.set(request.execId, proc);
    try {
      await this.launch(proc, ['exec', '--pid-file', proc.pidFile, `--tty=${request.terminal}`, ...options, container.id, ...request.args], request.stdin, request.terminal);
    } finally {
      // Forgotten once its exit has been sent (the host has what it needs by then), and not
      // before the launch has read its pid file.
      void proc.closed.then(async () => {
        container.execs.delete(request.execId);
        await rm(proc.pidFile, { force: true });
      });
    }
  }

  async signal(containerId: string, execId: string, signal: string): Promise<void> {
    const proc = this.process(containerId, execId);
    const number = signalNumber(signal);
    if (proc.status !== 'running') return;
    if (execId === '') {
      await runProgram(this.paths.runc, ['--root', this.paths.runcRoot, 'kill', containerId, String(number)]).catch(async () => {
        // It may have ended between the check and the kill: its runc deletes the container as
        // it ends, a moment before the agent learns of the end.
        if (await waitUntil(async () => proc.status !== 'running', END_WAIT_MS, END_POLL_MS)) return;
        // runc lost it while it runs on (its state cut short as the host died mid-create): the
        // process itself gets the signal; one that is gone has ended.
        signalProcess(proc.pid, number);
      });
      // Under TCG a program takes a while to set its handler after it starts.
      const running = async (): Promise<boolean> => proc.status === 'running';
      void resendWhenCaught(proc.pid, number, running, async () => signalProcess(proc.pid, number), RESEND_WINDOW_MS);
      return;
    }
    signalProcess(proc.pid, number);
  }

  async wait(containerId: string, execId: string): Promise<ProcessExit> {
    const proc = this.process(containerId, execId);
    if (proc.status === 'created') throw failedPrecondition(`${containerId} ${execId}: not started`);
    await proc.closed;
    return exitOf(proc);
  }

  /** Whether the kernel OOM-killed anything in a container whose main process just ended. */
  private async oomKills(proc: GuestProcess): Promise<boolean> {
    const container = this.containers.get(proc.containerId);
    if (proc.execId !== '' || !container) return false;
    // memory.events counts for the cgroups below too (cgroup v2 without memory_localevents).
    const events = await readFile(join(this.paths.cgroupRoot, container.cgroupParent, 'memory.events'), 'utf8').catch(() => '');
    return Number(/^oom_kill (\d+)$/m.exec(events)?.[1] ?? 0) > 0;
  }

  state(id: string): ContainerStateResult {
    const { main } = this.get(id);
    const status = { created: ContainerStatus.CONTAINER_STATUS_CREATED, running: ContainerStatus.CONTAINER_STATUS_RUNNING, stopped: ContainerStatus.CONTAINER_STATUS_STOPPED }[main.status];
    return {
      status,
      pid: main.status === 'running' ? main.pid : 0,
      exitCode: main.exitCode,
      startedAtMs: BigInt(main.startedAtMs),
      finishedAtMs: BigInt(main.finishedAtMs),
      oomKilled: main.oomKilled,
    };
  }

  /** New cgroup limits (OCI LinuxResources JSON) for a created or running container. */
  async update(id: string, resources: Uint8Array): Promise<void> {
    const { main } = this.get(id);
    if (main.status === 'stopped') throw failedPrecondition(`container ${id} has exited`);
    const text = Buffer.from(resources).toString('utf8');
    try {
      JSON.parse(text);
    } catch (error) {
      throw invalid(`container ${id}: the resources are not JSON: ${messageOf(error)}`);
    }
    await runProgram(this.paths.runc, ['--root', this.paths.runcRoot, 'update', '--resources', '-', id], undefined, text);
  }

  /** Kills what still runs and deletes the container; an unknown ID is fine. */
  async remove(id: string): Promise<void> {
    const container = this.containers.get(id);
    if (!container) return;
    const running = [container.main, ...container.execs.values()].filter((proc) => proc.status === 'running');
    if (running.length > 0) {
      await this.signal(id, '', 'SIGKILL').catch(() => undefined);
      for (const proc of running) proc.child?.kill('SIGKILL');
      await Promise.race([Promise.all(running.map((proc) => proc.closed)), new Promise((resolve) => setTimeout(resolve, KILL_WAIT_MS))]);
    }
    await runProgram(this.paths.runc, ['--root', this.paths.runcRoot, 'delete', '--force', id]).catch(() => undefined);
    await rm(container.bundle, { recursive: true, force: true });
    // Empty once runc has removed its own; cgroup directories go with rmdir.
    await rmdir(join(this.paths.cgroupRoot, container.cgroupParent)).catch(() => undefined);
    this.containers.delete(id);
  }

  async removeAll(): Promise<void> {
    await Promise.all([...this.containers.keys()].map((id) => this.remove(id)));
  }

  writeStdin(containerId: string, execId: string, data: Uint8Array): Promise<void> {
    const stdin = this.stdinOf(containerId, execId);
    return new Promise((resolve, reject) => stdin.write(data, (error) => (error ? reject(error) : resolve())));
  }

  closeStdin(containerId: string, execId: string): void {
    this.stdinOf(containerId, execId).end();
  }

  private stdinOf(containerId: string, execId: string): NodeJS.WritableStream {
    const stdin = this.process(containerId, execId).child?.stdin;
    if (!stdin) throw failedPrecondition(`${containerId} ${execId}: the process has no open stdin`);
    return stdin;
  }

  resizeTty(containerId: string, execId: string, columns: number, rows: number): void {
    const { resize } = this.process(containerId, execId);
    if (!resize) throw failedPrecondition(`${containerId} ${execId}: the process has no terminal`);
    if (columns === 0 || rows === 0 || columns > 0xffff || rows > 0xffff) throw invalid(`terminal size ${columns}x${rows} is out of range`);
    resize.write(`${columns} ${rows}\n`);
  }

  async stats(id: string): Promise<ContainerStatsResult> {
    const container = this.get(id);
    const dir = join(this.paths.cgroupRoot, container.cgroupsPath);
    const read = (file: string): Promise<string> => readFile(join(dir, file), 'utf8').catch(() => '');
    const [cpuStat, memoryCurrent, memoryStat, memoryMax, pids] = await Promise.all([read('cpu.stat'), read('memory.current'), read('memory.stat'), read('memory.max'), read('pids.current')]);
    const field = (text: string, name: string): bigint => BigInt(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? '0');
    const usage = BigInt(memoryCurrent.trim() || '0');
    const inactiveFile = field(memoryStat, 'inactive_file');
    return {
      cpuUsageNs: field(cpuStat, 'usage_usec') * 1000n,
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: usage > inactiveFile ? usage - inactiveFile : 0n,
      memoryRssBytes: field(memoryStat, 'anon'),
      pageFaults: field(memoryStat, 'pgfault'),
      majorPageFaults: field(memoryStat, 'pgmajfault'),
      memoryLimitBytes: /^\d+$/.test(memoryMax.trim()) ? BigInt(memoryMax.trim()) : 0n,
      pids: BigInt(pids.trim() || '0'),
    };
  }
}
