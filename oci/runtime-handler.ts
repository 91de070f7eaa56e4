import type { CgroupManager, HandlerType } from '../config/config';
import type { Logger } from '../system/logger';
import type { CgroupUsage } from './cgroups/cgroup-usage';
import type { OciResources } from './spec/oci-types';
import type { ForwardedConnection, StreamIO } from './stream-io';

/** The cgroup limits of a container, as OCI writes them (devices are fixed at create). */
export type ContainerLimits = Omit<OciResources, 'devices'>;

export interface CreateOptions {
  id: string;
  /** Holds config.json and the rootfs it names. */
  bundle: string;
  /**
   * When given, config.json is complete only once this resolves, and the runtime must not read
   * it before; it may prepare everything else meanwhile. Its failure fails the create.
   */
  bundleWritten?: Promise<unknown>;
  /** The CRI log file, written by conmon in the CRI (k8s-file) format. */
  logPath: string;
  terminal: boolean;
  stdin: boolean;
  /** CRI stdin_once: the container's stdin closes when the first attach session ends. */
  stdinOnce: boolean;
  /** The pod's cgroup path; with cgroupfs, conmon runs in a child of it so the pod pays for it. */
  podCgroupPath: string;
  timeoutMs: number;
}

export type RuntimeStatus = 'created' | 'running' | 'stopped' | 'unknown';

export interface ContainerRuntimeState {
  status: RuntimeStatus;
  pid: number;
  exitCode?: number;
  finishedAt?: Date;
  oomKilled?: boolean;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** What a handler recorded when a container's first process ended. */
export interface ContainerExit {
  id: string;
  exitCode: number;
  /** When it ended, to within the handler's reaction time. */
  at: Date;
}

/** What every handler is given besides its own config. */
export interface HandlerEnvironment {
  runroot: string;
  cgroupManager: CgroupManager;
  logger: Logger;
}

export interface HandlerReadiness {
  ready: boolean;
  /** Why it is not ready; empty when it is. */
  message: string;
}

export interface HandlerFeatures {
  recursiveReadOnlyMounts: boolean;
  userNamespaces: boolean;
}

/** What a handler learns about a pod when it starts: where its pinned network and cgroup are. */
export interface PodSandboxInfo {
  id: string;
  /** The pod's network namespace path; undefined for a hostNetwork pod. */
  netns: string | undefined;
  cgroupPath: string;
}

/**
 * One way of running pods, chosen per pod by RunPodSandbox's runtime_handler (the
 * RuntimeClass handler): conmon + an OCI runtime, or a VM per pod. The server only ever talks
 * to this interface, never to runc or QEMU directly.
 */
export interface RuntimeHandler {
  readonly name: string;
  readonly type: HandlerType;
  readonly features: HandlerFeatures;
  /** Whether pods can run on it now: its programs and files are present and usable. */
  readiness(): Promise<HandlerReadiness>;
  /** The pod's namespaces and network are ready: the handler sets up what it runs pods in. */
  startPod(pod: PodSandboxInfo): Promise<void>;
  /** Idempotent: the kubelet stops a pod many times. */
  stopPod(podId: string): Promise<void>;
  /** Idempotent: removing a pod the handler does not know succeeds. */
  removePod(podId: string): Promise<void>;
  /** Creates a container from its bundle; it runs only after startContainer. */
  createContainer(options: CreateOptions): Promise<void>;
  startContainer(id: string): Promise<void>;
  /** The signal, then SIGKILL after timeoutMs (at once for 0); idempotent. */
  stopContainer(id: string, signal: string, timeoutMs: number): Promise<void>;
  /** Idempotent: an unknown container is fine. */
  removeContainer(id: string): Promise<void>;
  containerState(id: string): Promise<ContainerRuntimeState>;
  execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult>;
  /** Runs `cmd` in the running container wired to the client's streams; resolves to its exit code. */
  exec(id: string, cmd: string[], io: StreamIO): Promise<number>;
  /** Joins the container's main process streams until it exits or the client goes away. */
  attach(id: string, io: StreamIO): Promise<void>;
  /** Carries one connection to `connection.port` on localhost in the pod's network; resolves when it closes. */
  portForward(pod: PodSandboxInfo, connection: ForwardedConnection): Promise<void>;
  reopenLog(id: string): Promise<void>;
  /** CPU, memory and process figures of a running container; `cgroupsPath` is the one its spec gave. */
  containerUsage(id: string, cgroupsPath: string): Promise<CgroupUsage>;
  updateResources(id: string, limits: ContainerLimits): Promise<void>;
  /** Exits recorded while nobody watched (the daemon was down), then each new one as it happens. */
  pendingExits(): Promise<ContainerExit[]>;
  watchExits(onExit: (exit: ContainerExit) => void): () => void;
}
