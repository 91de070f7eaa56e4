// What every VM of a handler has in common, a pod's or a template's: where its files are, and
// the wait for its agent's first answer that fails fast when QEMU ends.
import { readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { DeadlineExceededError, FailedPreconditionError } from '../../system/errors';
import { type TrackedProcess, isTrackedRunning } from '../../system/tracked-process';
import { AgentClient, type AgentListeners } from './agent-client';
import { type QemuMachine, qemuArgs } from './qemu-args';
import { launchQemu, qemuMessages } from './qemu-process';
import { QmpClient } from './qmp-client';
import type { VmSize } from './vm-size';
import { resumeVmState } from './vm-snapshot';
import type { VmTemplate } from './vm-template';

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
  /** Pod VMs of the default size are clones of a template VM. */
  template: boolean;
}

/** Where a VM's files are: `dir` holds them all but the sockets, which must have short paths. */
export interface VmPaths {
  dir: string;
  shared: string;
  consoleLog: string;
  qemuLog: string;
  pidFile: string;
  qmpSocket: string;
  agentSocket: string;
}

// A cold boot under TCG on a busy two-core machine: kernel ~2 s, the agent's Node ~2 s, often
// twice that when other VMs boot beside it.
export const BOOT_TIMEOUT_MS = 90_000;
const DEATH_POLL_MS = 250;
const MIB = 1024 * 1024;

/** `socketBase` is short: sun_path holds 107 bytes. */
export function vmPaths(dir: string, socketBase: string): VmPaths {
  return {
    dir,
    shared: join(dir, 'shared'),
    consoleLog: join(dir, 'console.log'),
    qemuLog: join(dir, 'qemu.log'),
    pidFile: join(dir, 'qemu.pid'),
    qmpSocket: `${socketBase}.qmp`,
    agentSocket: `${socketBase}.agent`,
  };
}

/**
 * Room to hot-plug what a pod's containers may come to ask for: the host's CPUs and memory.
 * The same for every VM of a size on this host, so a template's clones have it too.
 */
export function hotplugRoom(size: VmSize): { maxVcpus: number; maxMemoryMiB: number } {
  return { maxVcpus: availableParallelism(), maxMemoryMiB: size.memoryMiB + Math.floor(totalmem() / MIB) };
}

/** The machine and guest of every VM of these settings and size: a cold one's, a template's, a clone's. */
export function vmMachine(settings: VmSettings, size: VmSize): QemuMachine & { guestRoot: string } {
  return {
    accelerator: settings.accelerator,
    ...size,
    ...hotplugRoom(size),
    kernel: settings.kernelPath,
    initrd: settings.initrdPath,
    kernelParams: settings.kernelCommandLine,
    guestRoot: settings.guestRoot,
  };
}

/** The last lines the guest printed on its console, for an error message. */
export async function consoleTail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-8).join(' / ') || 'nothing';
}

/** Why the VM ended while it started: what QEMU and the guest's console said. */
async function startDeath(vm: string, paths: VmPaths): Promise<FailedPreconditionError> {
  const said = `QEMU said: ${await qemuMessages(paths.qemuLog)}; the guest's console: ${await consoleTail(paths.consoleLog)}`;
  return new FailedPreconditionError(`${vm} ended while starting: ${said}`);
}

/** Rejects once QEMU has ended; `stop` ends the watch. */
function watchForDeath(vm: string, paths: VmPaths, qemu: TrackedProcess): { died: Promise<never>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const died = new Promise<never>((_resolve, reject) => {
    timer = setInterval(() => {
      void isTrackedRunning(qemu).then(async (running) => {
        if (running || timer === undefined) return;
        clearInterval(timer);
        timer = undefined;
        reject(await startDeath(vm, paths));
      });
    }, DEATH_POLL_MS);
  });
  died.catch(() => undefined);
  return { died, stop: () => clearInterval(timer) };
}

/**
 * Runs `step` (a QMP exchange, the agent's first answer) unless QEMU dies or the start outlasts
 * its deadline; `vm` names the VM in errors ("the VM of pod X").
 */
export async function whileQemuLives<T>(vm: string, paths: VmPaths, qemu: TrackedProcess, step: (died: Promise<never>) => Promise<T>): Promise<T> {
  const { died, stop } = watchForDeath(vm, paths, qemu);
  try {
    return await Promise.race([step(died), died]);
  } catch (error) {
    // A QEMU that ends closes its sockets too, maybe before the watch sees it end.
    if (!(await isTrackedRunning(qemu))) throw await startDeath(vm, paths);
    if (!(error instanceof DeadlineExceededError)) throw error;
    throw new DeadlineExceededError(`${vm}: ${error.message}; the guest's console: ${await consoleTail(paths.consoleLog)}`);
  } finally {
    stop();
  }
}

/** Connects to the agent and waits for its first answer, unless QEMU dies or the boot outlasts its deadline. */
export function connectAgent(vm: string, paths: VmPaths, qemu: TrackedProcess, listeners: AgentListeners): Promise<AgentClient> {
  return whileQemuLives(vm, paths, qemu, async (died) => {
    const agent = await Promise.race([AgentClient.connect(paths.agentSocket, BOOT_TIMEOUT_MS, listeners), died]);
    await Promise.race([agent.health(BOOT_TIMEOUT_MS), died]).catch((error: unknown) => {
      agent.close();
      throw error;
    });
    return agent;
  });
}

/** Where a VM runs and what its NIC is joined to. */
export interface VmPlacement {
  /** The pod's network namespace and cgroup; a template, or a warm clone waiting for a pod, is in the daemon's. */
  netns?: string;
  cgroupPath?: string;
  /** None for a template: its NIC is attached to nothing. */
  tapName?: string;
  mac: string;
}

/** How a VM comes to run: it boots, it boots as a template (its RAM written to a file), or it is a clone of one. */
export type VmStart = { from: 'boot' } | { from: 'boot'; templateMemory: string } | { from: 'template'; template: VmTemplate };

/** A clone takes in its template's saved state and runs on from where the template stopped. */
async function resumeClone(paths: VmPaths): Promise<void> {
  const qmp = await QmpClient.connect(paths.qmpSocket, BOOT_TIMEOUT_MS);
  try {
    await resumeVmState(qmp, BOOT_TIMEOUT_MS);
  } finally {
    qmp.close();
  }
}

function memoryFile(start: VmStart): QemuMachine['memoryFile'] {
  if (start.from === 'template') return { path: start.template.memoryPath, shared: false };
  return 'templateMemory' in start ? { path: start.templateMemory, shared: true } : undefined;
}

/** QEMU's arguments for a VM of these settings and size, started so, with its files there. */
export function vmArgs(settings: VmSettings, size: VmSize, start: VmStart, paths: VmPaths, placement: VmPlacement): string[] {
  return qemuArgs({
    ...vmMachine(settings, size),
    memoryFile: memoryFile(start),
    incoming: start.from === 'template',
    consoleLog: paths.consoleLog,
    qmpSocket: paths.qmpSocket,
    agentSocket: paths.agentSocket,
    pidFile: paths.pidFile,
    sharedDir: paths.shared,
    network: { tapName: placement.tapName, mac: placement.mac },
  });
}

/**
 * Starts a VM and waits for its agent's first answer; `vm` names it in errors. On failure its
 * QEMU may still run: the caller finds it by its pid file.
 */
export async function startVm(
  vm: string,
  settings: VmSettings,
  size: VmSize,
  start: VmStart,
  paths: VmPaths,
  placement: VmPlacement,
  listeners: AgentListeners,
): Promise<{ qemu: TrackedProcess; agent: AgentClient }> {
  const clone = start.from === 'template';
  const qemu = await launchQemu(settings.qemuPath, {
    netns: placement.netns,
    cgroupPath: placement.cgroupPath,
    logPath: paths.qemuLog,
    incomingState: clone ? start.template.statePath : undefined,
    args: vmArgs(settings, size, start, paths, placement),
  });
  if (clone) await whileQemuLives(vm, paths, qemu, () => resumeClone(paths));
  return { qemu, agent: await connectAgent(vm, paths, qemu, listeners) };
}
