import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../system/logger';
import { FailedPreconditionError, NotFoundError, errorMessage } from '../../system/errors';
import { unmountAll } from '../../system/mount-cleanup';
import { stopTrackedProcess, trackedPidInUse } from '../../system/tracked-process';
import { hostStatsReader } from '../cgroups/cgroup-stats';
import type { CgroupUsage } from '../cgroups/cgroup-usage';
import { LinuxPodSandboxConfig } from '../../proto/gen/cri-api-v1';
import { PodDeathWatch } from '../pod-death-watch';
import type { PodContainerContext, PodHandlerState, PodResources, PodSandbox, RestoredPod } from '../runtime-handler';
import { AgentClient, type AgentListeners } from './agent-client';
import { GUEST_POD_FILES, GUEST_POD_PID_NS, GUEST_POD_SHM } from './guest-paths';
import { type PodVmPaths, type PodVmState, type VmFactory, bootPodVm, podVmPaths, podVmRunning, sharesPidNamespace, shutdownPodVm } from './pod-vm';
import type { VmSettings } from './vm-boot';
import { findQemuProcesses } from './qemu-process';
import { resizePodVm } from './vm-hotplug';
import { type ContainerDemand, type VmSize, wantedVmSize } from './vm-size';
import { VmTemplates } from './vm-template';
import { WarmClones } from './warm-clones';

interface RunningVm {
  pod: PodSandbox;
  state: PodVmState;
  paths: PodVmPaths;
  /** Undefined after the VM was stopped, or when a restart could not reach the agent. */
  agent: AgentClient | undefined;
  /** Resizes one at a time: each reads what the one before plugged in. */
  resizing: Promise<unknown>;
  /** The size last asked for; unknown after a restart. */
  wanted?: VmSize;
}

function isPodVmState(value: unknown): value is PodVmState {
  const state = value as Partial<PodVmState> | undefined;
  return (
    typeof state?.qemu?.pid === 'number' &&
    typeof state.qemu.startTime === 'string' &&
    typeof state.netns === 'string' &&
    typeof state.files?.hosts === 'string' &&
    (state.accelerator === 'kvm' || state.accelerator === 'tcg')
  );
}

// Reconnecting after a restart finds a VM that already runs: its agent answers at once or not at all.
const RECONNECT_TIMEOUT_MS = 10_000;

/**
 * The pods of a vm handler: each pod is one QEMU VM, found again after a daemon restart by its
 * recorded pid and reached through its agent's socket.
 */
export class VmPods {
  private readonly running = new Map<string, RunningVm>();
  private readonly factory: VmFactory;
  private readonly deaths = new PodDeathWatch(() => this.running.keys(), (podId) => this.alive(podId));

  constructor(
    private readonly handlerDir: string,
    private readonly settings: () => Promise<VmSettings>,
    warmClones: number,
    private readonly logger: Logger,
    /** Where every agent's events (output, exits) go: the containers. */
    private readonly listeners: AgentListeners,
  ) {
    const sockets = join(handlerDir, 'sockets');
    const templates = new VmTemplates(join(handlerDir, 'templates'), sockets, listeners, logger);
    this.factory = { templates, warm: new WarmClones(join(handlerDir, 'warm'), sockets, warmClones, templates, settings, listeners, logger) };
  }

  paths(podId: string): PodVmPaths {
    return podVmPaths(this.handlerDir, podId);
  }

  async start(pod: PodSandbox): Promise<PodHandlerState> {
    const paths = this.paths(pod.id);
    const { state, agent } = await bootPodVm(await this.settings(), this.factory, pod, paths, this.listeners, this.logger);
    this.running.set(pod.id, { pod, state, paths, agent, resizing: Promise.resolve(), wanted: state.size });
    return { ...state };
  }

  /** Takes back the VMs the records name and reconnects to their agents; those whose QEMU is gone are dead. */
  async restore(pods: RestoredPod[]): Promise<string[]> {
    await this.factory.templates.recover();
    const podQemus = new Set(pods.flatMap(({ state }) => (isPodVmState(state) ? [state.qemu.pid] : [])));
    await this.factory.warm.recover(podQemus);
    const dead: string[] = [];
    await Promise.all(
      pods.map(async ({ pod, state }) => {
        if (!isPodVmState(state)) {
          dead.push(pod.id);
          return;
        }
        const vm: RunningVm = { pod, state, paths: this.paths(pod.id), agent: undefined, resizing: Promise.resolve() };
        this.running.set(pod.id, vm);
        if (!(await podVmRunning(state))) {
          dead.push(pod.id);
          return;
        }
        try {
          vm.agent = await AgentClient.connect(vm.paths.agentSocket, RECONNECT_TIMEOUT_MS, this.listeners);
          await vm.agent.health(RECONNECT_TIMEOUT_MS);
          // What the containers wrote while the daemon was down, and their exits.
          await vm.agent.resumeEvents(RECONNECT_TIMEOUT_MS);
        } catch (error) {
          vm.agent?.close();
          vm.agent = undefined;
          this.logger.error('cannot reach the agent of a running pod VM', { pod_id: pod.id, qemu_pid: state.qemu.pid, error: errorMessage(error) });
          dead.push(pod.id);
        }
      }),
    );
    dead.forEach((podId) => this.deaths.settle(podId));
    return dead;
  }

  /** Pods whose QEMU ends, or whose agent stops answering, on their own. */
  watchDeaths(onDeath: (podId: string) => void): () => void {
    return this.deaths.watch(onDeath);
  }

  /**
   * Grows the pod's VM where its containers' limits together ask for more than it has, and
   * gives back what they no longer need, down to its boot size.
   */
  async resize(podId: string, containers: ContainerDemand[]): Promise<void> {
    const vm = this.running.get(podId);
    const agent = this.agent(podId);
    const boot = vm?.state.size;
    // A VM recorded before it had a size was booted without room to grow.
    if (!vm || !boot) return;
    const settings = await this.settings();
    const wanted = wantedVmSize(boot, settings, vm.pod.config.linux, containers);
    if (vm.wanted?.vcpus === wanted.vcpus && vm.wanted.memoryMiB === wanted.memoryMiB) return;
    vm.wanted = wanted;
    const resized = vm.resizing.then(() => resizePodVm(vm.paths.qmpSocket, agent, boot, wanted, this.logger, podId));
    // After a failure the VM's size is unknown: the next call asks QEMU again rather than trust it.
    vm.resizing = resized.catch(() => (vm.wanted = undefined));
    await resized;
  }

  /** Pod-level resize: the pod's resources and overhead become `resources`, and the VM is fitted to them and its containers. */
  async updatePodResources(podId: string, resources: PodResources, containers: ContainerDemand[]): Promise<void> {
    const vm = this.running.get(podId);
    if (!vm) throw new NotFoundError(`pod sandbox ${podId} does not run here`);
    const before = vm.pod;
    const linux = LinuxPodSandboxConfig.fromPartial({ ...before.config.linux, resources: resources.resources, overhead: resources.overhead });
    vm.pod = { ...before, config: { ...before.config, linux } };
    try {
      await this.resize(podId, containers);
    } catch (error) {
      // The resize failed as a whole: the record keeps the old resources, and so does the VM's pod.
      vm.pod = before;
      throw error;
    }
  }

  /** The pod's agent, for a verb that needs the running VM. */
  agent(podId: string): AgentClient {
    const vm = this.running.get(podId);
    if (!vm) throw new NotFoundError(`pod sandbox ${podId} does not run here`);
    if (vm.agent === undefined) throw new FailedPreconditionError(`the VM of pod sandbox ${podId} is not running`);
    return vm.agent;
  }

  /** An agent that stops answering fails its pod: the kubelet then stops it and makes a new one. */
  async alive(podId: string): Promise<boolean> {
    const vm = this.running.get(podId);
    return vm?.agent?.answering === true && (await podVmRunning(vm.state));
  }

  /** alive without reading /proc: what a status call can tell at once (see RuntimeHandler.podAlive). */
  looksAlive(podId: string): boolean {
    const vm = this.running.get(podId);
    return vm?.agent?.answering === true && trackedPidInUse(vm.state.qemu);
  }

  containerContext(podId: string): PodContainerContext {
    const vm = this.running.get(podId);
    if (!vm) throw new NotFoundError(`pod sandbox ${podId} does not run here`);
    // The agent made the pod's files, its /dev/shm and (when shared) its PID namespace in the guest.
    const files = { shm: GUEST_POD_SHM, hosts: join(GUEST_POD_FILES, 'hosts'), resolvConf: join(GUEST_POD_FILES, 'resolv.conf'), hostname: join(GUEST_POD_FILES, 'hostname') };
    return { pidNamespace: sharesPidNamespace(vm.pod) ? GUEST_POD_PID_NS : undefined, files };
  }

  /** The host's cost of the pod: QEMU and everything else in the pod cgroup. */
  async usage(podId: string): Promise<CgroupUsage> {
    const vm = this.running.get(podId);
    return vm ? (await hostStatsReader()).usage(vm.pod.cgroupPath) : {};
  }

  /** At daemon stop: the pods' VMs run on; the warm ones, which no pod has, end. */
  shutdown(): Promise<void> {
    return this.factory.warm.close(new Set([...this.running.values()].map((vm) => vm.state.qemu.pid)));
  }

  async stop(podId: string): Promise<void> {
    const vm = this.running.get(podId);
    if (!vm) return;
    this.deaths.settle(podId);
    await shutdownPodVm(vm.state, vm.paths, vm.agent, this.logger);
    vm.agent = undefined;
  }

  /**
   * Ends the VM if it still runs and removes its directory. With nothing recorded (a start cut
   * short), QEMU is found by the pid file it wrote; its TAP goes with the pod's network namespace.
   */
  async remove(podId: string): Promise<void> {
    const vm = this.running.get(podId);
    const paths = this.paths(podId);
    if (vm) {
      await this.stop(podId);
    } else {
      for (const qemu of await findQemuProcesses(paths.pidFile)) await stopTrackedProcess(qemu, 'QEMU', 0, undefined);
    }
    // Unmounted before anything is deleted: a container's root filesystem may still be bound in.
    await unmountAll(paths.dir, true);
    await Promise.all([rm(paths.dir, { recursive: true, force: true }), rm(paths.qmpSocket, { force: true }), rm(paths.agentSocket, { force: true })]);
    this.running.delete(podId);
    this.deaths.forget(podId);
  }
}
