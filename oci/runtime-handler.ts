import type { CgroupManager, HandlerType } from '../config/config';
import type { LinuxPodSandboxConfig, PodSandboxConfig } from '../proto/gen/cri-api-v1';
import type { Logger } from '../system/logger';
import type { CgroupUsage } from './cgroups/cgroup-usage';
import type { PodMountFiles } from './spec/mounts';
import type { OciResources } from './spec/oci-types';
import type { ForwardedConnection, StreamIO } from './stream-io';

/**
 * The pod-level resources of a sandbox, as its config holds them and UpdatePodSandboxResources
 * changes them: what its containers are limited to together, and the pod's overhead.
 */
export type PodResources = Pick<LinuxPodSandboxConfig, 'resources' | 'overhead'>;

/** The cgroup limits of a container, as OCI writes them (devices are fixed at create). */
export type ContainerLimits = Omit<OciResources, 'devices'>;

export interface CreateOptions {
  id: string;
  podId: string;
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
  /** The main process, as the OCI runtime sees it (in a VM pod, the guest's pid). */
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

/** Pinned namespace files of a pod; an absent one means the pod shares the host's. */
export interface PodNamespacePaths {
  network?: string;
  ipc?: string;
  uts?: string;
}

/** A pod as its handler runs it: made by the server up to the namespaces, network and cgroup. */
export interface PodSandbox {
  id: string;
  /**
   * The CRI config as the kubelet sent it: metadata, DNS, port mappings, resources and
   * overhead, annotations, security context (PID namespace mode among it), log directory.
   */
  config: PodSandboxConfig;
  namespaces: PodNamespacePaths;
  cgroupPath: string;
  /** The pod's hostname: its own in its own UTS namespace, the node's otherwise. */
  hostname: string;
  /** Size of the pod's own /dev/shm; 0 when the pod shares the host's IPC namespace. */
  shmSizeBytes: number;
  /** The sysctls of the pod's namespaces: the runtime's defaults for its own network namespace, then the pod's. */
  sysctls: Record<string, string>;
}

/**
 * What a handler keeps about a pod it started, as JSON: persisted in the pod's record with it
 * (atomically) and handed back by restorePods after a daemon restart.
 */
export type PodHandlerState = Readonly<Record<string, unknown>>;

/** A pod the records name, as restorePods hands it back. */
export interface RestoredPod {
  pod: PodSandbox;
  /** What startPod returned; undefined when the record is older than handler state. */
  state: PodHandlerState | undefined;
}

/** What a pod's containers get from the pod for their OCI spec. */
export interface PodContainerContext {
  /** The pod-wide PID namespace, when the pod has one. */
  pidNamespace?: string;
  files: PodMountFiles;
}

/**
 * One way of running pods, chosen per pod by RunPodSandbox's runtime_handler (the
 * RuntimeClass handler): conmon + an OCI runtime, or a VM per pod. The server only ever talks
 * to this interface, never to runc or QEMU directly.
 */
export interface RuntimeHandler {
  readonly name: string;
  readonly type: HandlerType;
  /**
   * Whether the handler's pod works on the pod's network (a VM copies eth0's addresses into its
   * guest and redirects eth0 to its TAP): its startPod then waits for CNI ADD, and its stopPod
   * goes before CNI DEL. A handler that does not is started while CNI ADD runs and stopped while
   * CNI DEL runs; of the pod's, only its infra process runs then, and it uses no network.
   */
  readonly usesPodNetwork: boolean;
  /** What the kubelet may ask of it, as found on this host (its kernel and runtime). */
  features(): Promise<HandlerFeatures>;
  /** Whether pods can run on it now: its programs and files are present and usable. */
  readiness(): Promise<HandlerReadiness>;
  /**
   * Before anything of the pod exists: throws InvalidArgumentError, naming the option, for a
   * pod this handler cannot run as asked (a VM cannot share the host's network, PIDs or IPC).
   */
  admitPod(config: PodSandboxConfig): void;
  /**
   * The pod's namespaces and cgroup are ready, and its network too if usesPodNetwork: the
   * handler makes what it runs the pod in (conmon: /dev/shm, resolv.conf and hosts, an infra
   * process; a VM: the VM). On failure it leaves nothing. What it returns is persisted with the
   * pod.
   */
  startPod(pod: PodSandbox): Promise<PodHandlerState>;
  /**
   * At daemon start, before any other call: the pods the records give to this handler. It
   * reconnects to what it runs and resolves to the IDs of the pods it found dead.
   */
  restorePods(pods: RestoredPod[]): Promise<string[]>;
  /** At daemon stop: ends what the handler runs for no pod (warm VMs); the pods run on. */
  shutdown(): Promise<void>;
  /**
   * Whether the pod's sandbox still runs, as far as can be told at once (every status and list
   * call asks): false for one certainly gone, or unknown. An end only a closer look tells (a
   * process left a zombie, its pid taken by another) watchPodDeaths reports within its round.
   */
  podAlive(podId: string): boolean;
  /** The PID namespace and files a container of the pod is given. */
  podContainerContext(podId: string): PodContainerContext;
  /** CPU, memory and process figures of the whole pod. */
  podUsage(podId: string): Promise<CgroupUsage>;
  /**
   * Pod-level resize of a running pod: the handler fits what it runs the pod in to the new
   * resources (conmon: the pod cgroup's limits; a VM: its vCPUs and memory).
   */
  updatePodResources(podId: string, resources: PodResources): Promise<void>;
  /** Idempotent: the kubelet stops a pod many times. */
  stopPod(podId: string): Promise<void>;
  /**
   * Idempotent: removing a pod the handler does not know succeeds, and removes whatever a
   * startPod cut short by a crash made for that pod ID.
   */
  removePod(podId: string): Promise<void>;
  /** Creates a container from its bundle; it runs only after startContainer. */
  createContainer(options: CreateOptions): Promise<void>;
  startContainer(id: string): Promise<void>;
  /** The signal, then SIGKILL after timeoutMs (at once for 0); idempotent. */
  stopContainer(id: string, signal: string, timeoutMs: number): Promise<void>;
  /** Idempotent: an unknown container is fine. */
  removeContainer(id: string): Promise<void>;
  containerState(id: string): Promise<ContainerRuntimeState>;
  /**
   * The pid containerState reports while the container runs, from what the handler learned when
   * it started it (or, after a restart, kept on disk): no runtime command, no guest call on the
   * way; 0 when it knows none. For answers read often (verbose ContainerStatus).
   */
  containerPid(id: string): Promise<number>;
  execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult>;
  /** Runs `cmd` in the running container wired to the client's streams; resolves to its exit code. */
  exec(id: string, cmd: string[], io: StreamIO): Promise<number>;
  /** Joins the container's main process streams until it exits or the client goes away. */
  attach(id: string, io: StreamIO): Promise<void>;
  /** Carries one connection to `connection.port` on localhost in the pod's network; resolves when it closes. */
  portForward(podId: string, connection: ForwardedConnection): Promise<void>;
  reopenLog(id: string): Promise<void>;
  /** CPU, memory and process figures of a running container; `cgroupsPath` is the one its spec gave. */
  containerUsage(id: string, cgroupsPath: string): Promise<CgroupUsage>;
  updateResources(id: string, limits: ContainerLimits): Promise<void>;
  /** Exits recorded while nobody watched (the daemon was down), then each new one as it happens. */
  pendingExits(): Promise<ContainerExit[]>;
  watchExits(onExit: (exit: ContainerExit) => void): () => void;
  /**
   * Calls `onDeath` once for each pod whose sandbox dies on its own from now on (its infra
   * process or VM ended, its agent gone), never for one stopPod ends; returns the function that
   * stops watching. Deaths while the daemon was down are those restorePods found.
   */
  watchPodDeaths(onDeath: (podId: string) => void): () => void;
}
