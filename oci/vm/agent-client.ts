import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { FrameDecoder, encodeFrame } from '../../agent/protocol/frame-codec';
import {
  ContainerStatus,
  ErrorCode,
  OutputStream,
  VolumeKind,
  type ContainerStatsResult,
  type Error as AgentErrorMessage,
  type Frame,
  type Request,
  type Response,
  type Route,
} from '../../proto/gen/agent';
import {
  AlreadyExistsError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  UnimplementedError,
  type PodvisorError,
} from '../../system/errors';
import { connectWhenListening } from '../../system/unix-connect';
import type { CgroupUsage } from '../cgroups/cgroup-usage';
import type { ContainerRuntimeState } from '../runtime-handler';
import type { GuestVolume } from './guest-spec';

/** How long the host waits for an agent call it makes on its own (not bounded by a CRI call's own timeout). */
export const AGENT_CALL_TIMEOUT_MS = 15_000;
const RANDOM_SEED_BYTES = 64;

export interface AgentOutput {
  containerId: string;
  /** '' for the container's main process. */
  execId: string;
  stream: 'stdout' | 'stderr';
  data: Buffer;
  /** When the guest read it. */
  at: Date;
}

export interface AgentExit {
  containerId: string;
  execId: string;
  exitCode: number;
}

/**
 * Where a client hands the agent's events, from the moment it connects (a reconnecting agent
 * sends what it held at once). A promise returned must settle before the event counts as
 * handled and is acknowledged.
 */
export interface AgentListeners {
  onOutput(output: AgentOutput): Promise<void> | void;
  onExit(exit: AgentExit): Promise<void> | void;
  /** What the guest's side of a port-forward connection sent. */
  onPortData(connectionId: string, data: Buffer): void;
  /** A port-forward connection ended after all its data; `error` says why when it failed. */
  onPortClosed(connectionId: string, error: string): void;
}

export interface GuestInterface {
  mac: string;
  mtu: number;
  /** CIDR notation. */
  addresses: string[];
}

export interface ExecRequest {
  containerId: string;
  execId: string;
  args: string[];
  stdin: boolean;
  terminal: boolean;
  /** KEY=VALUE entries added to the container's environment. */
  env?: string[];
  /** Absolute; the container's working directory when not given. */
  cwd?: string;
  /** The container's user when not given. */
  user?: { uid: number; gid: number; additionalGids?: number[] };
}

/** The call a request makes: one field of Request besides its id. */
type Call = Omit<Request, 'id'>;

interface Pending {
  verb: string;
  resolve: (response: Response) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

// Acknowledgements are batched: the agent keeps what is unacknowledged, a few more frames do no harm.
const ACK_DELAY_MS = 50;
const ACK_TIMEOUT_MS = 5_000;
const PROBE_TIMEOUT_MS = 5_000;

const ERRORS: Record<ErrorCode, new (message: string) => PodvisorError> = {
  [ErrorCode.ERROR_CODE_UNSPECIFIED]: InternalError,
  [ErrorCode.ERROR_CODE_INVALID_ARGUMENT]: InvalidArgumentError,
  [ErrorCode.ERROR_CODE_NOT_FOUND]: NotFoundError,
  [ErrorCode.ERROR_CODE_ALREADY_EXISTS]: AlreadyExistsError,
  [ErrorCode.ERROR_CODE_FAILED_PRECONDITION]: FailedPreconditionError,
  [ErrorCode.ERROR_CODE_INTERNAL]: InternalError,
  [ErrorCode.ERROR_CODE_UNIMPLEMENTED]: UnimplementedError,
  [ErrorCode.UNRECOGNIZED]: InternalError,
};

function agentError(error: AgentErrorMessage): PodvisorError {
  return new ERRORS[error.code](`guest agent: ${error.message}`);
}

function usageOf(stats: ContainerStatsResult): CgroupUsage {
  return {
    cpu: { usageNanos: stats.cpuUsageNs },
    memory: {
      usageBytes: Number(stats.memoryUsageBytes),
      workingSetBytes: Number(stats.memoryWorkingSetBytes),
      rssBytes: Number(stats.memoryRssBytes),
      pageFaults: Number(stats.pageFaults),
      majorPageFaults: Number(stats.majorPageFaults),
      limitBytes: stats.memoryLimitBytes === 0n ? undefined : Number(stats.memoryLimitBytes),
    },
    processCount: Number(stats.pids),
  };
}

/** The first call the request makes, by its field name: for messages. */
function verbOf(call: Call): string {
  return Object.entries(call).find(([, value]) => value !== undefined)?.[0] ?? 'unknown';
}

/**
 * The host's side of a pod VM's agent: a unix socket that QEMU joins to the guest's
 * virtio-serial port. Every call has a deadline; a call past it fails DeadlineExceeded naming
 * the verb, and a lost connection fails every pending call at once as Unavailable.
 */
export class AgentClient {
  private readonly pending = new Map<bigint, Pending>();
  private nextId = 1n;
  /** Events are handled one after another, in the agent's order. */
  private events: Promise<void> = Promise.resolve();
  private handledUpTo = 0n;
  private silent = false;
  private probing = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private closedBecause: string | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly path: string,
    private readonly listeners: AgentListeners,
  ) {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => decoder.push(chunk).forEach((frame) => this.onFrame(frame)));
    socket.on('error', () => undefined);
    socket.on('close', () => this.fail(`the connection to the guest agent (${path}) closed`));
  }

  /** Connects, retrying while the socket is not there yet (QEMU starting), until `timeoutMs`. */
  static async connect(path: string, timeoutMs: number, listeners: AgentListeners): Promise<AgentClient> {
    return new AgentClient(await connectWhenListening(path, timeoutMs, 'the guest agent'), path, listeners);
  }

  /**
   * Whether the agent answers: the connection is open and no call has gone unanswered past its
   * deadline since the agent last said anything. An agent that stops answering is probed until
   * it answers again or the connection ends.
   */
  get answering(): boolean {
    return this.closedBecause === undefined && !this.silent;
  }

  private probe(): void {
    if (this.probing || this.closedBecause !== undefined) return;
    this.probing = true;
    this.call({ health: {} }, PROBE_TIMEOUT_MS)
      .catch(() => undefined)
      .finally(() => {
        this.probing = false;
        if (this.silent) this.probe();
      });
  }

  private onFrame(frame: Frame): void {
    this.silent = false;
    if (frame.response) {
      const pending = this.pending.get(frame.response.id);
      if (!pending) return;
      this.pending.delete(frame.response.id);
      clearTimeout(pending.timer);
      if (frame.response.error) pending.reject(agentError(frame.response.error));
      else pending.resolve(frame.response);
    }
    const event = frame.event;
    if (event) this.events = this.events.then(() => this.handleEvent(event));
  }

  /** Hands an event to the listeners once (a resumed agent sends again what was not acknowledged), then acknowledges it. */
  private async handleEvent(event: NonNullable<Frame['event']>): Promise<void> {
    if (event.seq <= this.handledUpTo) return;
    const { output, exit, portData, portClosed } = event;
    const handled: (Promise<void> | void)[] = [];
    if (output) {
      const stream = output.stream === OutputStream.OUTPUT_STREAM_STDERR ? 'stderr' : 'stdout';
      handled.push(
        this.listeners.onOutput({ containerId: output.containerId, execId: output.execId, stream, data: Buffer.from(output.data), at: new Date(Number(output.atMs)) }),
      );
    }
    if (exit) handled.push(this.listeners.onExit({ containerId: exit.containerId, execId: exit.execId, exitCode: exit.exitCode }));
    if (portData) this.listeners.onPortData(portData.connectionId, Buffer.from(portData.data));
    if (portClosed) this.listeners.onPortClosed(portClosed.connectionId, portClosed.error);
    await Promise.allSettled(handled);
    this.handledUpTo = event.seq;
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      this.call({ acknowledgeEvents: { upToSeq: this.handledUpTo } }, ACK_TIMEOUT_MS).catch(() => undefined);
    }, ACK_DELAY_MS);
  }

  private fail(why: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = why;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new UnavailableError(`${pending.verb}: ${why}`));
      this.pending.delete(id);
    }
  }

  private call(call: Call, timeoutMs: number): Promise<Response> {
    const verb = verbOf(call);
    if (this.closedBecause !== undefined) return Promise.reject(new UnavailableError(`${verb}: ${this.closedBecause}`));
    const id = this.nextId;
    this.nextId += 1n;
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.silent = true;
        this.probe();
        reject(new DeadlineExceededError(`the guest agent (${this.path}) did not answer ${verb} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { verb, resolve, reject, timer });
      this.socket.write(encodeFrame({ request: { id, ...call } }));
    });
  }

  private async empty(call: Call, timeoutMs: number): Promise<void> {
    await this.call(call, timeoutMs);
  }

  /** Has the agent send again every event not acknowledged yet: after reconnecting, nothing sent meanwhile is lost. */
  resumeEvents(timeoutMs: number): Promise<void> {
    return this.empty({ resumeEvents: {} }, timeoutMs);
  }

  health(timeoutMs: number): Promise<void> {
    return this.empty({ health: {} }, timeoutMs);
  }

  /**
   * Brings hot-plugged memory online and keeps `cpus` vCPUs online, once the guest has found
   * what is `present`; resolves to how many vCPUs are online.
   */
  async onlineCpusMemory(cpus: number, present: { cpus: number; memoryMiB: number }, timeoutMs: number): Promise<number> {
    const { online } = await this.call({ onlineCpusMemory: { cpus, cpusPresent: present.cpus, memoryMibPresent: present.memoryMiB } }, timeoutMs);
    return online?.cpusOnline ?? 0;
  }

  async guestDetails(timeoutMs: number): Promise<NonNullable<Response['guestDetails']>> {
    const { guestDetails } = await this.call({ guestDetails: {} }, timeoutMs);
    if (!guestDetails) throw new InternalError('guest agent: guestDetails answered without details');
    return guestDetails;
  }

  setTime(now: Date, timeoutMs: number): Promise<void> {
    return this.empty({ setTime: { unixMs: BigInt(now.getTime()) } }, timeoutMs);
  }

  reseedRandom(seed: Buffer, timeoutMs: number): Promise<void> {
    return this.empty({ reseedRandom: { seed } }, timeoutMs);
  }

  /**
   * The guest's clock set to the host's and its RNG fed from the host's: a guest has no RTC it
   * can trust and little entropy of its own at boot, a clone none of its own at all.
   */
  async syncClockAndEntropy(timeoutMs: number): Promise<void> {
    await Promise.all([this.setTime(new Date(), timeoutMs), this.reseedRandom(randomBytes(RANDOM_SEED_BYTES), timeoutMs)]);
  }

  updateInterface(iface: GuestInterface, timeoutMs: number): Promise<void> {
    return this.empty({ updateInterface: iface }, timeoutMs);
  }

  updateRoutes(mac: string, routes: Route[], timeoutMs: number): Promise<void> {
    return this.empty({ updateRoutes: { mac, routes } }, timeoutMs);
  }

  createSandbox(
    sandbox: { hostname: string; sysctls: Record<string, string>; sharePidNamespace: boolean; shmSizeBytes: bigint; podFiles: Record<string, Buffer> },
    timeoutMs: number,
  ): Promise<void> {
    return this.empty({ createSandbox: sandbox }, timeoutMs);
  }

  destroySandbox(timeoutMs: number): Promise<void> {
    return this.empty({ destroySandbox: {} }, timeoutMs);
  }

  createContainer(
    container: { id: string; spec: string; stdin: boolean; terminal: boolean; volumes?: GuestVolume[]; guestDevices?: boolean },
    timeoutMs: number,
  ): Promise<void> {
    const { id, spec, stdin, terminal, volumes = [], guestDevices = false } = container;
    const kinds = { ephemeral: VolumeKind.VOLUME_KIND_EPHEMERAL, local: VolumeKind.VOLUME_KIND_LOCAL };
    const guestVolumes = volumes.map((volume) => ({ name: volume.name, kind: kinds[volume.kind] }));
    return this.empty({ createContainer: { containerId: id, spec: Buffer.from(spec), stdin, terminal, volumes: guestVolumes, guestDevices } }, timeoutMs);
  }

  startContainer(containerId: string, timeoutMs: number): Promise<void> {
    return this.empty({ startContainer: { containerId } }, timeoutMs);
  }

  signalProcess(containerId: string, execId: string, signal: string, timeoutMs: number): Promise<void> {
    return this.empty({ signalProcess: { containerId, execId, signal } }, timeoutMs);
  }

  async waitProcess(containerId: string, execId: string, timeoutMs: number): Promise<number> {
    const { exit } = await this.call({ waitProcess: { containerId, execId } }, timeoutMs);
    return exit?.exitCode ?? 0;
  }

  async containerState(containerId: string, timeoutMs: number): Promise<ContainerRuntimeState> {
    const { state } = await this.call({ containerState: { containerId } }, timeoutMs).catch((error: unknown) => {
      // The guest no longer has it (it was removed, or the VM is a new one): nothing runs.
      if (error instanceof NotFoundError) return { state: undefined };
      throw error;
    });
    switch (state?.status) {
      case ContainerStatus.CONTAINER_STATUS_CREATED:
        return { status: 'created', pid: 0 };
      case ContainerStatus.CONTAINER_STATUS_RUNNING:
        return { status: 'running', pid: state.pid };
      case ContainerStatus.CONTAINER_STATUS_STOPPED:
        return { status: 'stopped', pid: 0, exitCode: state.exitCode, finishedAt: new Date(Number(state.finishedAtMs)), oomKilled: state.oomKilled };
      default:
        return { status: 'unknown', pid: 0 };
    }
  }

  updateContainer(containerId: string, resources: object, timeoutMs: number): Promise<void> {
    return this.empty({ updateContainer: { containerId, resources: Buffer.from(JSON.stringify(resources)) } }, timeoutMs);
  }

  removeContainer(containerId: string, timeoutMs: number): Promise<void> {
    return this.empty({ removeContainer: { containerId } }, timeoutMs);
  }

  execProcess(exec: ExecRequest, timeoutMs: number): Promise<void> {
    const { env = [], cwd = '', user } = exec;
    const execUser = user && { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids ?? [] };
    return this.empty({ execProcess: { ...exec, env, cwd, user: execUser } }, timeoutMs);
  }

  writeStdin(containerId: string, execId: string, data: Buffer, timeoutMs: number): Promise<void> {
    return this.empty({ writeStdin: { containerId, execId, data } }, timeoutMs);
  }

  closeStdin(containerId: string, execId: string, timeoutMs: number): Promise<void> {
    return this.empty({ closeStdin: { containerId, execId } }, timeoutMs);
  }

  resizeTty(containerId: string, execId: string, size: { columns: number; rows: number }, timeoutMs: number): Promise<void> {
    return this.empty({ resizeTty: { containerId, execId, ...size } }, timeoutMs);
  }

  openPort(connectionId: string, port: number, timeoutMs: number): Promise<void> {
    return this.empty({ openPort: { connectionId, port } }, timeoutMs);
  }

  writePort(connectionId: string, data: Buffer, timeoutMs: number): Promise<void> {
    return this.empty({ writePort: { connectionId, data } }, timeoutMs);
  }

  closePortWrite(connectionId: string, timeoutMs: number): Promise<void> {
    return this.empty({ closePortWrite: { connectionId } }, timeoutMs);
  }

  closePort(connectionId: string, timeoutMs: number): Promise<void> {
    return this.empty({ closePort: { connectionId } }, timeoutMs);
  }

  async containerStats(containerId: string, timeoutMs: number): Promise<CgroupUsage> {
    const { stats } = await this.call({ containerStats: { containerId } }, timeoutMs);
    if (!stats) throw new InternalError('guest agent: containerStats answered without stats');
    return usageOf(stats);
  }

  close(): void {
    clearTimeout(this.ackTimer);
    this.fail(`the connection to the guest agent (${this.path}) was closed by the daemon`);
    this.socket.destroy();
  }
}
