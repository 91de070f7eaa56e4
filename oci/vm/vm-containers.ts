import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../system/atomic-file';
import { errorCode } from '../../system/error-code';
import { readMountInfo } from '../../system/mountinfo';
import { whenAborted } from '../../system/when-aborted';
import { DeadlineExceededError, FailedPreconditionError, NotFoundError, errorMessage } from '../../system/errors';
import type { Logger } from '../../system/logger';
import type { CgroupUsage } from '../cgroups/cgroup-usage';
import { CriLogWriter } from '../cri-log-writer';
import type { OciSpec } from '../spec/oci-types';
import type { ContainerExit, ContainerLimits, ContainerRuntimeState, CreateOptions, ExecResult } from '../runtime-handler';
import type { StreamIO } from '../stream-io';
import { AGENT_CALL_TIMEOUT_MS, type AgentClient, type AgentExit, type AgentListeners, type AgentOutput } from './agent-client';
import { clientSink, relayResizes, relayStdin, type GuestProcess, type OutputSink } from './guest-process-io';
import { guestSpec, type MountSource } from './guest-spec';
import type { ContainerDemand } from './vm-size';
import { shareIntoGuest, unshareFromGuest } from './shared-dir';
import type { VmPods } from './vm-pods';

// runc starting a container under TCG on a busy host takes seconds, at times over ten; the agent
// gives it 60 s and says why when it fails, so the host waits a little longer than that.
const START_TIMEOUT_MS = 65_000;

/** What the handler keeps of a container on disk, to find it again after a restart. */
interface ContainerFile {
  podId: string;
  logPath: string;
  /** Whether the main process reads input, and whether it closes with the first attach session's. */
  stdin?: boolean;
  stdinOnce?: boolean;
  /** Its cgroup limits: the pod's VM is sized for all its containers' together. */
  limits?: ContainerLimits;
}

interface VmContainer extends ContainerFile {
  log: CriLogWriter;
  /** Whether the last write to the log failed. */
  logFailing?: boolean;
  /** The guest pid of the main process, learnt from the agent once it runs. */
  pid?: Promise<number>;
}

/** An exec'd process someone waits for: where its output goes and who learns its exit. */
interface TrackedExec {
  sink: OutputSink;
  done: (exitCode: number) => void;
}

// After SIGKILL only the guest kernel's teardown is left.
const KILL_WAIT_MS = 10_000;
// Output an exec-sync keeps; the kubelet's probes read a few lines.
const MAX_EXEC_OUTPUT_BYTES = 16 * 1024 * 1024;

/** What guestSpec needs to know of the spec's mount sources. */
async function mountSources(spec: OciSpec): Promise<Map<string, MountSource>> {
  const tmpfs = new Set((await readMountInfo()).filter((entry) => entry.fsType === 'tmpfs').map((entry) => entry.mountPoint));
  const sources = new Map<string, MountSource>();
  for (const mount of spec.mounts) {
    const info = await stat(mount.source).catch(() => undefined);
    if (info) sources.set(mount.source, { file: info.isFile(), tmpfs: tmpfs.has(mount.source) });
  }
  return sources;
}

/** The main process of a container has no exec ID in the agent's protocol. */
const MAIN_PROCESS = '';

/**
 * The containers of VM pods: their files reach the guest through the pod's shared directory,
 * the agent runs them, and their output becomes CRI logs on the host.
 */
export class VmContainers {
  private readonly containers = new Map<string, VmContainer>();
  private readonly execs = new Map<string, TrackedExec>();
  /** The clients attached to each container's main process. */
  private readonly attached = new Map<string, Set<OutputSink>>();
  private readonly exitWaiters = new Map<string, Set<(exit: ContainerExit) => void>>();
  private readonly exitWatchers = new Set<(exit: ContainerExit) => void>();
  private execCounter = 0;

  constructor(
    private readonly dir: string,
    /** The handler's pods, made after the containers since they take the containers' listeners. */
    private readonly podsOf: () => VmPods,
    private readonly logger: Logger,
  ) {}

  private get pods(): VmPods {
    return this.podsOf();
  }

  private recordPath(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** What every pod's agent client hands its events to. */
  readonly listeners: Pick<AgentListeners, 'onOutput' | 'onExit'> = {
    onOutput: (output) => this.onOutput(output),
    onExit: (exit) => this.onExit(exit),
  };

  private async onOutput(output: AgentOutput): Promise<void> {
    if (output.execId === MAIN_PROCESS) {
      for (const sink of this.attached.get(output.containerId) ?? []) sink(output.stream, output.data);
      const container = this.containers.get(output.containerId);
      if (!container) return;
      // Once per spell of failures (a full disk fails every write until space is freed).
      try {
        await container.log.write(output.stream, output.data, output.at);
        if (container.logFailing) this.logger.info('container log written again', { container_id: output.containerId, log_path: container.logPath });
        container.logFailing = false;
      } catch (error) {
        if (!container.logFailing) this.logger.error('cannot write a container log; its output is dropped until it can', { container_id: output.containerId, error: errorMessage(error) });
        container.logFailing = true;
      }
      return;
    }
    this.execs.get(`${output.containerId}/${output.execId}`)?.sink(output.stream, output.data);
  }

  private onExit(exit: AgentExit): void {
    if (exit.execId !== MAIN_PROCESS) {
      this.execs.get(`${exit.containerId}/${exit.execId}`)?.done(exit.exitCode);
      return;
    }
    const event: ContainerExit = { id: exit.containerId, exitCode: exit.exitCode, at: new Date() };
    for (const waiter of this.exitWaiters.get(exit.containerId) ?? []) waiter(event);
    for (const watcher of this.exitWatchers) watcher(event);
  }

  private get(id: string): VmContainer {
    const container = this.containers.get(id);
    if (!container) throw new NotFoundError(`container ${id} does not exist`);
    return container;
  }

  private agentOf(id: string): AgentClient {
    return this.pods.agent(this.get(id).podId);
  }

  async create(options: CreateOptions): Promise<void> {
    await options.bundleWritten;
    const agent = this.pods.agent(options.podId);
    const spec = JSON.parse(await readFile(join(options.bundle, 'config.json'), 'utf8')) as OciSpec;
    const shared = this.pods.paths(options.podId).shared;
    const guest = guestSpec(spec, options.id, await mountSources(spec));
    const { devices: _devices, ...limits } = spec.linux.resources;
    const record: ContainerFile = { podId: options.podId, logPath: options.logPath, stdin: options.stdin, stdinOnce: options.stdinOnce, limits };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.recordPath(options.id), JSON.stringify(record));
    try {
      await this.pods.resize(options.podId, [...this.limitsIn(options.podId), limits]);
      await shareIntoGuest(shared, guest.binds);
      await agent.createContainer(
        { id: options.id, spec: JSON.stringify(guest.spec), stdin: options.stdin, terminal: options.terminal, volumes: guest.volumes, guestDevices: guest.guestDevices },
        options.timeoutMs,
      );
    } catch (error) {
      await this.discard(options.id, record).catch(() => undefined);
      throw error;
    }
    this.containers.set(options.id, { ...record, log: new CriLogWriter(options.logPath) });
  }

  async start(id: string): Promise<void> {
    const container = this.get(id);
    await this.pods.agent(container.podId).startContainer(id, START_TIMEOUT_MS);
    // Asked now, while the start is answered, so that statuses need not ask the guest.
    container.pid = undefined;
    void this.mainPid(id, container);
  }

  /** The guest pid of the container's main process, as the agent last told it; 0 when unknown. */
  async pid(id: string): Promise<number> {
    const container = this.containers.get(id);
    return container === undefined ? 0 : this.mainPid(id, container);
  }

  private async askPid(id: string, podId: string): Promise<number> {
    return (await this.pods.agent(podId).containerState(id, AGENT_CALL_TIMEOUT_MS)).pid;
  }

  /** Asks the agent for the main process's pid once and keeps the answer; a failed ask is made again next time. */
  private mainPid(id: string, container: VmContainer): Promise<number> {
    if (container.pid === undefined) {
      const asked = this.askPid(id, container.podId);
      container.pid = asked;
      asked.catch(() => {
        if (container.pid === asked) container.pid = undefined;
      });
    }
    return container.pid;
  }

  async state(id: string): Promise<ContainerRuntimeState> {
    const container = this.containers.get(id);
    if (!container) return { status: 'unknown', pid: 0 };
    if (!(await this.pods.alive(container.podId))) {
      // The VM is gone, and every process in it with the guest kernel: killed, as by SIGKILL.
      return { status: 'stopped', pid: 0, exitCode: 137, finishedAt: new Date() };
    }
    return this.pods.agent(container.podId).containerState(id, AGENT_CALL_TIMEOUT_MS);
  }

  /**
   * Resolves to true once the container's main process has exited, or to false when `until`
   * settles first.
   */
  private async exitedBefore(id: string, until: Promise<unknown>): Promise<boolean> {
    let waiter: ((exit: ContainerExit) => void) | undefined;
    const exited = new Promise<boolean>((resolve) => {
      waiter = () => resolve(true);
      const waiters = this.exitWaiters.get(id) ?? new Set();
      waiters.add(waiter);
      this.exitWaiters.set(id, waiters);
    });
    try {
      // The exit may have come before the waiter was set.
      if (!['created', 'running'].includes((await this.state(id)).status)) return true;
      return await Promise.race([exited, until.then(() => false)]);
    } finally {
      const waiters = this.exitWaiters.get(id);
      if (waiter) waiters?.delete(waiter);
      // The last waiter takes the container's entry with it, or every container stopped would keep one.
      if (waiters?.size === 0) this.exitWaiters.delete(id);
    }
  }

  /** Resolves once the container's main process has exited, or to false after `timeoutMs`. */
  private async waitForExit(id: string, timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await this.exitedBefore(id, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))));
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(id: string, signal: string, timeoutMs: number): Promise<void> {
    if ((await this.state(id)).status !== 'running') return;
    const agent = this.agentOf(id);
    if (timeoutMs > 0) {
      await agent.signalProcess(id, MAIN_PROCESS, signal, AGENT_CALL_TIMEOUT_MS);
      if (await this.waitForExit(id, timeoutMs)) return;
    }
    await agent.signalProcess(id, MAIN_PROCESS, 'SIGKILL', AGENT_CALL_TIMEOUT_MS);
    if (!(await this.waitForExit(id, KILL_WAIT_MS))) throw new DeadlineExceededError(`container ${id} did not exit within ${KILL_WAIT_MS} ms of SIGKILL`);
  }

  /**
   * Idempotent. With nothing in memory (a create cut short by a crash) the record on disk says
   * where it was; it is written before anything is bound, so without one nothing was.
   */
  async remove(id: string): Promise<void> {
    const container = this.containers.get(id) ?? (await this.readRecord(id));
    if (container === undefined) return;
    const alive = await this.pods.alive(container.podId);
    if (alive) await this.pods.agent(container.podId).removeContainer(id, AGENT_CALL_TIMEOUT_MS);
    await this.discard(id, container);
    if (alive) {
      await this.pods.resize(container.podId, this.limitsIn(container.podId)).catch((error: unknown) => {
        this.logger.warn("cannot give a removed container's vCPUs and memory back", { container_id: id, pod_id: container.podId, error: errorMessage(error) });
      });
    }
  }

  private async discard(id: string, container: ContainerFile): Promise<void> {
    await unshareFromGuest(this.pods.paths(container.podId).shared, id);
    await this.containers.get(id)?.log.close();
    this.containers.delete(id);
    await rm(this.recordPath(id), { force: true });
  }

  private async readRecord(id: string): Promise<ContainerFile | undefined> {
    try {
      return JSON.parse(await readFile(this.recordPath(id), 'utf8')) as ContainerFile;
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  /** Takes back the containers of the pods the records name, after a restart. */
  async restore(pods: ReadonlySet<string>): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const name of names.filter((entry) => entry.endsWith('.json'))) {
      const id = name.slice(0, -'.json'.length);
      const record = await this.readRecord(id);
      if (record && pods.has(record.podId)) this.containers.set(id, { ...record, log: new CriLogWriter(record.logPath) });
    }
  }

  /** The containers whose main process ended while nobody watched. */
  async pendingExits(): Promise<ContainerExit[]> {
    const exits: ContainerExit[] = [];
    for (const id of this.containers.keys()) {
      const state = await this.state(id).catch(() => undefined);
      const container = this.containers.get(id);
      // Kept, so that statuses after the restart need not ask the guest for it.
      if (state?.status === 'running' && container !== undefined) container.pid = Promise.resolve(state.pid);
      if (state?.status === 'stopped') exits.push({ id, exitCode: state.exitCode ?? 137, at: state.finishedAt ?? new Date() });
    }
    return exits;
  }

  watchExits(onExit: (exit: ContainerExit) => void): () => void {
    this.exitWatchers.add(onExit);
    return () => this.exitWatchers.delete(onExit);
  }

  private async requireStatus(id: string, allowed: string[], what: string): Promise<void> {
    const { status } = await this.state(id);
    if (!allowed.includes(status)) throw new FailedPreconditionError(`cannot ${what} container ${id}: it is ${status === 'stopped' ? 'exited' : status}`);
  }

  /**
   * Starts `cmd` in the container with its output going to `sink`; resolves once the agent has
   * started it, to the exit code to come and the function that stops tracking it.
   */
  private async startExec(id: string, cmd: string[], sink: OutputSink, streams: { stdin: boolean; terminal: boolean }): Promise<{ target: GuestProcess; exited: Promise<number>; untrack: () => void }> {
    const agent = this.agentOf(id);
    this.execCounter += 1;
    const execId = `exec-${Date.now()}-${this.execCounter}`;
    const key = `${id}/${execId}`;
    let done: (exitCode: number) => void = () => undefined;
    const exited = new Promise<number>((resolve) => (done = resolve));
    this.execs.set(key, { sink, done });
    const untrack = (): boolean => this.execs.delete(key);
    try {
      await agent.execProcess({ containerId: id, execId, args: cmd, ...streams }, AGENT_CALL_TIMEOUT_MS);
    } catch (error) {
      untrack();
      throw error;
    }
    return { target: { agent, containerId: id, execId }, exited, untrack };
  }

  private kill(target: GuestProcess): Promise<void> {
    return target.agent.signalProcess(target.containerId, target.execId, 'SIGKILL', AGENT_CALL_TIMEOUT_MS).catch(() => undefined);
  }

  async execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    await this.requireStatus(id, ['running'], 'exec in');
    const output = { stdout: [] as Buffer[], stderr: [] as Buffer[], bytes: 0 };
    const keep: OutputSink = (stream, data) => {
      if (output.bytes >= MAX_EXEC_OUTPUT_BYTES) return;
      output[stream].push(data);
      output.bytes += data.length;
    };
    const { target, exited, untrack } = await this.startExec(id, cmd, keep, { stdin: false, terminal: false });
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
      const exitCode = await Promise.race([exited, deadline]);
      if (exitCode === undefined) {
        await this.kill(target);
        throw new DeadlineExceededError(`exec in ${id} did not finish within ${timeoutMs} ms`);
      }
      return { stdout: Buffer.concat(output.stdout), stderr: Buffer.concat(output.stderr), exitCode };
    } finally {
      clearTimeout(timer);
      untrack();
    }
  }

  /** Runs `cmd` wired to the client's streams; the client going away kills it. No deadline: it runs as long as it likes. */
  async exec(id: string, cmd: string[], io: StreamIO): Promise<number> {
    await this.requireStatus(id, ['running'], 'exec in');
    const { target, exited, untrack } = await this.startExec(id, cmd, clientSink(io), { stdin: io.stdin !== undefined, terminal: io.tty });
    const stopInput = io.stdin ? relayStdin(target, io.stdin, true, this.logger) : undefined;
    const stopResizes = io.tty && io.resizes ? relayResizes(target, io.resizes, this.logger) : undefined;
    const kill = (): void => void this.kill(target);
    if (io.signal.aborted) kill();
    else io.signal.addEventListener('abort', kill, { once: true });
    try {
      return await exited;
    } finally {
      io.signal.removeEventListener('abort', kill);
      stopInput?.();
      stopResizes?.();
      untrack();
    }
  }

  /** Joins the main process's streams until it exits or the client goes away. */
  async attach(id: string, io: StreamIO): Promise<void> {
    const container = this.get(id);
    await this.requireStatus(id, ['created', 'running'], 'attach to');
    const target: GuestProcess = { agent: this.agentOf(id), containerId: id, execId: MAIN_PROCESS };
    const sink = clientSink(io);
    const sinks = this.attached.get(id) ?? new Set<OutputSink>();
    sinks.add(sink);
    this.attached.set(id, sinks);
    const withInput = io.stdin !== undefined && container.stdin === true;
    const stopInput = withInput && io.stdin ? relayStdin(target, io.stdin, container.stdinOnce === true, this.logger) : undefined;
    const stopResizes = io.tty && io.resizes ? relayResizes(target, io.resizes, this.logger) : undefined;
    try {
      await this.exitedBefore(id, whenAborted(io.signal));
    } finally {
      stopInput?.();
      stopResizes?.();
      sinks.delete(sink);
      if (sinks.size === 0) this.attached.delete(id);
      // CRI's stdin_once: the first attach session's end is the end of the container's input.
      if (withInput && container.stdinOnce === true) await target.agent.closeStdin(id, MAIN_PROCESS, AGENT_CALL_TIMEOUT_MS).catch(() => undefined);
    }
  }

  /** The limits of the pod's containers, as the VM is to be sized for them. */
  limitsIn(podId: string, except?: string): ContainerDemand[] {
    return [...this.containers.entries()].filter(([id, container]) => container.podId === podId && id !== except).map(([, container]) => container.limits ?? {});
  }

  async updateResources(id: string, limits: ContainerLimits): Promise<void> {
    const container = this.get(id);
    await this.pods.resize(container.podId, [...this.limitsIn(container.podId, id), limits]);
    await this.agentOf(id).updateContainer(id, limits, AGENT_CALL_TIMEOUT_MS);
    const { log: _log, logFailing: _logFailing, ...record } = { ...container, limits };
    await writeFileAtomic(this.recordPath(id), JSON.stringify(record));
    container.limits = limits;
  }

  async usage(id: string): Promise<CgroupUsage> {
    return this.agentOf(id).containerStats(id, AGENT_CALL_TIMEOUT_MS);
  }

  reopenLog(id: string): Promise<void> {
    return this.get(id).log.reopen();
  }
}
