import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../system/logger';
import { counter, histogram } from '../../system/metrics-registry';
import { InternalError, errorMessage } from '../../system/errors';
import { type TrackedProcess, isTrackedRunning, stopTrackedProcess } from '../../system/tracked-process';
import { withTimeout } from '../../system/with-timeout';
import { createPodFiles, type PodFiles } from '../pod-files';
import { NamespaceMode } from '../../proto/gen/cri-api-v1';
import type { PodSandbox } from '../runtime-handler';
import { AGENT_CALL_TIMEOUT_MS, type AgentClient, type AgentListeners } from './agent-client';
import { connectTap, disconnectTap, netnsName, readPodInterface } from './pod-tap';
import { QmpClient } from './qmp-client';
import { type VmPaths, type VmSettings, type VmStart, startVm, vmPaths } from './vm-boot';
import { podVmSize, type VmSize } from './vm-size';
import type { VmTemplates } from './vm-template';
import type { WarmClones } from './warm-clones';

/** What a pod's VM is, as persisted with the pod. */
export interface PodVmState {
  qemu: TrackedProcess;
  accelerator: 'kvm' | 'tcg';
  netns: string;
  files: PodFiles;
  /** What it booted with: hot-plugging adds to this and gives back down to it. */
  size?: VmSize;
}

export type PodVmPaths = VmPaths;

export const TAP_NAME = 'tap0_pv';
const GUEST_INTERFACE = 'eth0';
const QUIT_TIMEOUT_MS = 5_000;

/** Whether the pod's containers share one PID namespace (shareProcessNamespace). */
export function sharesPidNamespace(pod: PodSandbox): boolean {
  return pod.config.linux?.securityContext?.namespaceOptions?.pid === NamespaceMode.POD;
}

export function podVmPaths(handlerDir: string, podId: string): PodVmPaths {
  // A 64-hex pod ID under a long run root would not fit in a socket path, 16 hex do.
  return vmPaths(join(handlerDir, 'pods', podId), join(handlerDir, 'sockets', podId.slice(0, 16)));
}

/** The guest's clock and entropy set by the host, and the pod made in it: its files, sysctls, /dev/shm, network. */
async function prepareGuest(agent: AgentClient, pod: PodSandbox, netns: string, files: PodFiles): Promise<void> {
  const [iface, hosts, resolvConf, hostname] = await Promise.all([
    readPodInterface(netns, GUEST_INTERFACE),
    readFile(files.hosts),
    readFile(files.resolvConf),
    readFile(files.hostname),
  ]);
  const sandbox = {
    hostname: pod.hostname,
    sysctls: pod.sysctls,
    sharePidNamespace: sharesPidNamespace(pod),
    shmSizeBytes: BigInt(pod.shmSizeBytes),
    podFiles: { hosts, 'resolv.conf': resolvConf, hostname },
  };
  // The guest has one NIC: the routes of the pod's CNI interface are its routes.
  const routes = iface.routes.filter((route) => route.device === GUEST_INTERFACE).map(({ destination, gateway }) => ({ destination, gateway }));
  // Independent of each other but for the routes, which need the address: sent at once, the
  // agent's waits on the programs it runs overlap.
  await Promise.all([
    agent.syncClockAndEntropy(AGENT_CALL_TIMEOUT_MS),
    agent.createSandbox(sandbox, AGENT_CALL_TIMEOUT_MS),
    agent
      .updateInterface({ mac: iface.mac, mtu: iface.mtu, addresses: iface.addresses }, AGENT_CALL_TIMEOUT_MS)
      .then(() => agent.updateRoutes(iface.mac, routes, AGENT_CALL_TIMEOUT_MS)),
  ]);
}

/** Where pod VMs of the template's size come from: the template, and the clones kept warm. */
export interface VmFactory {
  templates: VmTemplates;
  warm: WarmClones;
}

/** How the pod's VM came to run, for the log. */
type VmOrigin = 'booted' | 'cloned' | 'taken warm';

// The factory's hits as an operator counts them: a warm clone ready, a clone of the template started, or a cold boot.
const FACTORY_SOURCE: Record<VmOrigin, string> = { 'taken warm': 'warm', cloned: 'template', booted: 'cold' };
const vmBoots = counter('podvisor_vm_boots_total', 'Pod VMs started, by where they came from (warm, template, cold).');
const vmBootDuration = histogram('podvisor_vm_boot_duration_seconds', 'Time from asking for a pod VM to its guest being ready for containers, by source.');

/**
 * Starts the pod's VM: its shared directory with the pod's files, a TAP joined to the pod's CNI
 * interface, QEMU in the pod's network namespace and cgroup, then the agent configures the
 * guest. A VM of the template's size is a warm clone taken over, or else a clone started now;
 * any other boots. On failure the caller removes what was made (removePodVm), as after a crash.
 */
export async function bootPodVm(
  settings: VmSettings,
  factory: VmFactory,
  pod: PodSandbox,
  paths: PodVmPaths,
  listeners: AgentListeners,
  logger: Logger,
): Promise<{ state: PodVmState; agent: AgentClient }> {
  const netns = pod.namespaces.network;
  if (netns === undefined) throw new InternalError(`pod ${pod.id} has no network namespace of its own for its VM`);
  const started = Date.now();
  const tap = { tapName: TAP_NAME, ifname: GUEST_INTERFACE };
  const defaultSize = { vcpus: settings.vcpus, memoryMiB: settings.memoryMiB };
  const size = podVmSize(pod.config, defaultSize);
  const fromTemplate = settings.template && size.vcpus === defaultSize.vcpus && size.memoryMiB === defaultSize.memoryMiB;
  const template = fromTemplate ? await factory.templates.template(settings) : undefined;
  const warm = template && netnsName(netns) !== undefined ? factory.warm.take(template) : undefined;
  await mkdir(join(paths.agentSocket, '..'), { recursive: true, mode: 0o700 });
  await mkdir(join(paths.dir, '..'), { recursive: true, mode: 0o700 });
  if (warm) await factory.warm.adopt(warm, paths, netns, pod.cgroupPath, tap);
  else await mkdir(paths.shared, { recursive: true, mode: 0o700 });
  const files = await createPodFiles({
    dir: join(paths.dir, 'pod-files'),
    hostname: pod.hostname,
    dns: pod.config.dnsConfig,
    hostNetwork: false,
    // The guest gives the pod its /dev/shm.
    shmSizeBytes: 0,
  });
  const iface = await readPodInterface(netns, GUEST_INTERFACE);
  await connectTap(netns, tap);
  const start: VmStart = template ? { from: 'template', template } : { from: 'boot' };
  const placement = { netns, cgroupPath: pod.cgroupPath, tapName: TAP_NAME, mac: template?.mac ?? iface.mac };
  const vmStarted = Date.now();
  const { qemu, agent } = warm ?? (await startVm(`the VM of pod ${pod.id}`, settings, size, start, paths, placement, listeners));
  const guestStarted = Date.now();
  try {
    await prepareGuest(agent, pod, netns, files);
  } catch (error) {
    agent.close();
    // Found by its pid file otherwise; a warm clone's names the warm VM's path, not the pod's.
    if (warm) await stopTrackedProcess(qemu, 'QEMU', 0, undefined);
    throw error;
  }
  const origin: VmOrigin = warm ? 'taken warm' : template ? 'cloned' : 'booted';
  const source = FACTORY_SOURCE[origin];
  vmBoots.inc({ source });
  vmBootDuration.observe({ source }, (Date.now() - started) / 1000);
  logger.info(`pod VM ${origin}`, {
    pod_id: pod.id,
    pid: qemu.pid,
    accelerator: settings.accelerator,
    vcpus: size.vcpus,
    memory_mib: size.memoryMiB,
    template: template?.key,
    start_ms: Date.now() - started,
    // Where the time went: the host's side (the template, TAP, files), QEMU until the agent answers, the agent making the pod.
    host_ms: vmStarted - started,
    vm_ms: guestStarted - vmStarted,
    guest_ms: Date.now() - guestStarted,
  });
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
