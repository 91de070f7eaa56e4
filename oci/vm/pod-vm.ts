import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../system/logger';
import { DeadlineExceededError, FailedPreconditionError, InternalError, errorMessage } from '../../system/errors';
import { type TrackedProcess, isTrackedRunning, stopTrackedProcess } from '../../system/tracked-process';
import { withTimeout } from '../../system/with-timeout';
import { createPodFiles, type PodFiles } from '../pod-files';
import { NamespaceMode } from '../../proto/gen/cri-api-v1';
import type { PodSandbox } from '../runtime-handler';
import { AgentClient, type AgentListeners } from './agent-client';
import { connectTap, disconnectTap, readPodInterface } from './pod-tap';
import { qemuArgs } from './qemu-args';
import { launchQemu, qemuMessages } from './qemu-process';
import { QmpClient } from './qmp-client';
import { podVmSize, type VmSize } from './vm-size';

/** How every VM of a handler is made: the config with the accelerator resolved. */
export interface VmSettings {
  qemuPath: string;
  kernelPath: string;
  initrdPath: string;
  guestRoot: string;
  accelerator: 'kvm' | 'tcg';
  vcpus: number;
  memoryMiB: number;
  /** The whole kernel command line. */
  kernelCommandLine: string;
}

/** What a pod's VM is, as persisted with the pod. */
export interface PodVmState {
  qemu: TrackedProcess;
  accelerator: 'kvm' | 'tcg';
  netns: string;
  files: PodFiles;
  /** What it booted with: hot-plugging adds to this and gives back down to it. */
  size?: VmSize;
}

/** Where a pod VM's files are: `dir` holds them all but the sockets, which must have short paths. */
export interface PodVmPaths {
  dir: string;
  shared: string;
  consoleLog: string;
  qemuLog: string;
  pidFile: string;
  qmpSocket: string;
  agentSocket: string;
}

export const TAP_NAME = 'tap0_pv';
const GUEST_INTERFACE = 'eth0';
// A cold boot under TCG on a busy two-core machine: kernel ~2 s, the agent's Node ~2 s, often
// twice that when other VMs boot beside it.
const BOOT_TIMEOUT_MS = 90_000;
const AGENT_CALL_TIMEOUT_MS = 15_000;
const QUIT_TIMEOUT_MS = 5_000;
const RANDOM_SEED_BYTES = 64;
const DEATH_POLL_MS = 250;
const MIB = 1024 * 1024;

/** Whether the pod's containers share one PID namespace (shareProcessNamespace). */
export function sharesPidNamespace(pod: PodSandbox): boolean {
  return pod.config.linux?.securityContext?.namespaceOptions?.pid === NamespaceMode.POD;
}

export function podVmPaths(handlerDir: string, podId: string): PodVmPaths {
  const dir = join(handlerDir, 'pods', podId);
  // sun_path holds 107 bytes: a 64-hex pod ID under a long run root would not fit, 16 hex do.
  const sockets = join(handlerDir, 'sockets', podId.slice(0, 16));
  return {
    dir,
    shared: join(dir, 'shared'),
    consoleLog: join(dir, 'console.log'),
    qemuLog: join(dir, 'qemu.log'),
    pidFile: join(dir, 'qemu.pid'),
    qmpSocket: `${sockets}.qmp`,
    agentSocket: `${sockets}.agent`,
  };
}

/** The last lines the guest printed on its console, for an error message. */
async function consoleTail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-8).join(' / ') || 'nothing';
}

/** Why the VM ended while it booted: what QEMU and the guest's console said. */
async function bootDeath(podId: string, paths: PodVmPaths): Promise<FailedPreconditionError> {
  const said = `QEMU said: ${await qemuMessages(paths.qemuLog)}; the guest's console: ${await consoleTail(paths.consoleLog)}`;
  return new FailedPreconditionError(`the VM of pod ${podId} ended while booting: ${said}`);
}

/** Rejects once QEMU has ended; `stop` ends the watch. */
function watchForDeath(podId: string, paths: PodVmPaths, qemu: TrackedProcess): { died: Promise<never>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const died = new Promise<never>((_resolve, reject) => {
    timer = setInterval(() => {
      void isTrackedRunning(qemu).then(async (running) => {
        if (running || timer === undefined) return;
        clearInterval(timer);
        timer = undefined;
        reject(await bootDeath(podId, paths));
      });
    }, DEATH_POLL_MS);
  });
  died.catch(() => undefined);
  return { died, stop: () => clearInterval(timer) };
}

/** Connects to the agent and waits for its first answer, unless QEMU dies or the boot outlasts its deadline. */
async function connectAgent(podId: string, paths: PodVmPaths, qemu: TrackedProcess, listeners: AgentListeners): Promise<AgentClient> {
  const { died, stop } = watchForDeath(podId, paths, qemu);
  try {
    const agent = await Promise.race([AgentClient.connect(paths.agentSocket, BOOT_TIMEOUT_MS, listeners), died]);
    await Promise.race([agent.health(BOOT_TIMEOUT_MS), died]).catch((error: unknown) => {
      agent.close();
      throw error;
    });
    return agent;
  } catch (error) {
    // A QEMU that ends closes the agent's socket too, maybe before the watch sees it end.
    if (!(await isTrackedRunning(qemu))) throw await bootDeath(podId, paths);
    if (!(error instanceof DeadlineExceededError)) throw error;
    throw new DeadlineExceededError(
      `the agent in the VM of pod ${podId} did not answer within ${BOOT_TIMEOUT_MS / 1000} s; the guest's console: ${await consoleTail(paths.consoleLog)}`,
    );
  } finally {
    stop();
  }
}

/**
 * The guest's clock and entropy are set by the host (a guest has no RTC it can trust and little
 * entropy at boot), then the agent makes the pod in it: its files, sysctls, /dev/shm, network.
 */
async function prepareGuest(agent: AgentClient, pod: PodSandbox, netns: string, files: PodFiles): Promise<void> {
  const [iface] = await Promise.all([
    readPodInterface(netns, GUEST_INTERFACE),
    agent.setTime(new Date(), AGENT_CALL_TIMEOUT_MS),
    agent.reseedRandom(randomBytes(RANDOM_SEED_BYTES), AGENT_CALL_TIMEOUT_MS),
  ]);
  const podFiles = { hosts: await readFile(files.hosts), 'resolv.conf': await readFile(files.resolvConf), hostname: await readFile(files.hostname) };
  const sandbox = { hostname: pod.hostname, sysctls: { ...pod.config.linux?.sysctls }, sharePidNamespace: sharesPidNamespace(pod), shmSizeBytes: BigInt(pod.shmSizeBytes), podFiles };
  await agent.createSandbox(sandbox, AGENT_CALL_TIMEOUT_MS);
  await agent.updateInterface({ mac: iface.mac, mtu: iface.mtu, addresses: iface.addresses }, AGENT_CALL_TIMEOUT_MS);
  // The guest has one NIC: the routes of the pod's CNI interface are its routes.
  const routes = iface.routes.filter((route) => route.device === GUEST_INTERFACE).map(({ destination, gateway }) => ({ destination, gateway }));
  await agent.updateRoutes(iface.mac, routes, AGENT_CALL_TIMEOUT_MS);
}

/**
 * Boots the pod's VM: its shared directory with the pod's files, a TAP joined to the pod's CNI
 * interface, QEMU in the pod's network namespace and cgroup, then the agent configures the
 * guest. On failure the caller removes what was made (removePodVm), as after a crash.
 */
export async function bootPodVm(
  settings: VmSettings,
  pod: PodSandbox,
  paths: PodVmPaths,
  listeners: AgentListeners,
  logger: Logger,
): Promise<{ state: PodVmState; agent: AgentClient }> {
  const netns = pod.namespaces.network;
  if (netns === undefined) throw new InternalError(`pod ${pod.id} has no network namespace of its own for its VM`);
  await mkdir(paths.shared, { recursive: true, mode: 0o700 });
  await mkdir(join(paths.agentSocket, '..'), { recursive: true, mode: 0o700 });
  const files = await createPodFiles({
    dir: join(paths.dir, 'pod-files'),
    hostname: pod.hostname,
    dns: pod.config.dnsConfig,
    hostNetwork: false,
    // The guest gives the pod its /dev/shm.
    shmSizeBytes: 0,
  });
  const iface = await readPodInterface(netns, GUEST_INTERFACE);
  await connectTap(netns, { tapName: TAP_NAME, ifname: GUEST_INTERFACE });
  const size = podVmSize(pod.config, { vcpus: settings.vcpus, memoryMiB: settings.memoryMiB });
  const started = Date.now();
  const qemu = await launchQemu(settings.qemuPath, {
    netns,
    cgroupPath: pod.cgroupPath,
    logPath: paths.qemuLog,
    args: qemuArgs({
      accelerator: settings.accelerator,
      ...size,
      // Room to hot-plug what the pod's containers may come to ask for: the host's CPUs and memory.
      maxVcpus: availableParallelism(),
      maxMemoryMiB: size.memoryMiB + Math.floor(totalmem() / MIB),
      kernel: settings.kernelPath,
      initrd: settings.initrdPath,
      kernelParams: settings.kernelCommandLine,
      consoleLog: paths.consoleLog,
      qmpSocket: paths.qmpSocket,
      agentSocket: paths.agentSocket,
      pidFile: paths.pidFile,
      guestRoot: settings.guestRoot,
      sharedDir: paths.shared,
      network: { tapName: TAP_NAME, mac: iface.mac },
    }),
  });
  const agent = await connectAgent(pod.id, paths, qemu, listeners);
  try {
    await prepareGuest(agent, pod, netns, files);
  } catch (error) {
    agent.close();
    throw error;
  }
  logger.info('pod VM booted', { pod_id: pod.id, pid: qemu.pid, accelerator: settings.accelerator, vcpus: size.vcpus, memory_mib: size.memoryMiB, boot_ms: Date.now() - started });
  return { state: { qemu, accelerator: settings.accelerator, netns, files, size }, agent };
}

/** Whether the pod's QEMU still runs. */
export function podVmRunning(state: PodVmState): Promise<boolean> {
  return isTrackedRunning(state.qemu);
}

/**
 * Ends the VM: the agent stops the containers, QEMU quits through QMP, and SIGKILL follows
 * when either does not answer in time. Then the TAP goes. Idempotent.
 */
export async function shutdownPodVm(state: PodVmState, paths: PodVmPaths, agent: AgentClient | undefined, logger: Logger): Promise<void> {
  if (await isTrackedRunning(state.qemu)) {
    // An agent that no longer answers is not waited for: QEMU is ended anyway.
    if (agent?.answering === true) {
      await agent.destroySandbox(AGENT_CALL_TIMEOUT_MS).catch((error: unknown) => {
        logger.warn('the agent did not tear the sandbox down; the VM is ended anyway', { qemu_pid: state.qemu.pid, error: errorMessage(error) });
      });
    }
    await quitQemu(paths.qmpSocket).catch((error: unknown) => {
      logger.warn('QEMU did not quit through QMP; killing it', { qemu_pid: state.qemu.pid, error: errorMessage(error) });
    });
    await stopTrackedProcess(state.qemu, 'QEMU', QUIT_TIMEOUT_MS, undefined);
  }
  agent?.close();
  await disconnectTap(state.netns, TAP_NAME, GUEST_INTERFACE);
}

async function quitQemu(socket: string): Promise<void> {
  const qmp = await QmpClient.connect(socket, QUIT_TIMEOUT_MS);
  try {
    await withTimeout(qmp.quit(QUIT_TIMEOUT_MS), QUIT_TIMEOUT_MS, `QEMU did not quit within ${QUIT_TIMEOUT_MS} ms`);
  } finally {
    qmp.close();
  }
}
