import { dirname, join } from 'node:path';
import { NamespaceMode } from '../../proto/gen/cri-api-v1';
import { NotFoundError } from '../../system/errors';
import { settle } from '../../system/settle';
import { hostStatsReader } from '../cgroups/cgroup-stats';
import type { CgroupUsage } from '../cgroups/cgroup-usage';
import { PodDeathWatch } from '../pod-death-watch';
import type { PodContainerContext, PodHandlerState, PodSandbox, RestoredPod } from '../runtime-handler';
import { isTrackedRunning, trackedPidInUse } from '../../system/tracked-process';
import { type InfraProcess, PAUSE_PATH, findInfraProcesses, startInfraProcess, stopInfraProcess } from './infra-process';
import { type PodFiles, createPodFiles, removePodFiles, unmountPodShm } from '../pod-files';

/** What the conmon handler keeps of a pod: its files and its infra process, if it has one. */
type ConmonPodState = { files: PodFiles; infra?: InfraProcess };

function isConmonPodState(value: unknown): value is ConmonPodState {
  const state = value as Partial<ConmonPodState> | undefined;
  return (
    typeof state?.files === 'object' &&
    state.files !== null &&
    typeof state.files.hosts === 'string' &&
    (state.infra === undefined || (typeof state.infra.pid === 'number' && typeof state.infra.startTime === 'string'))
  );
}

interface RunningPod {
  pod: PodSandbox;
  state: ConmonPodState;
}

/**
 * The host side of conmon pods: containers run straight in the pod's pinned namespaces, so a
 * pod needs only its shared files (/dev/shm, resolv.conf, hosts, hostname) and, when its PID
 * namespace is pod-wide, an infra process as that namespace's PID 1.
 */
export class ConmonPods {
  private readonly running = new Map<string, RunningPod>();
  private readonly deaths = new PodDeathWatch(() => this.running.keys(), (podId) => this.alive(podId));

  /** `dir` holds a directory of files per pod. */
  constructor(private readonly dir: string) {}

  async start(pod: PodSandbox): Promise<PodHandlerState> {
    const dir = join(this.dir, pod.id);
    const files = await createPodFiles({
      dir,
      hostname: pod.hostname,
      dns: pod.config.dnsConfig,
      hostNetwork: pod.namespaces.network === undefined,
      shmSizeBytes: pod.shmSizeBytes,
    });
    const state: ConmonPodState = { files };
    if (pod.config.linux?.securityContext?.namespaceOptions?.pid === NamespaceMode.POD) {
      try {
        state.infra = await startInfraProcess({
          pauseBinary: PAUSE_PATH,
          podId: pod.id,
          namespaces: pod.namespaces,
          cgroupPath: pod.cgroupPath,
          // The hostname is the pod's own only in its own UTS namespace; with the host's it stays as is.
          hostname: pod.namespaces.uts === undefined ? undefined : pod.hostname,
        });
      } catch (error) {
        await removePodFiles(dir);
        throw error;
      }
    }
    this.running.set(pod.id, { pod, state });
    return state;
  }

  /** Takes back the pods the records name; those whose infra process is gone are dead. */
  async restore(pods: RestoredPod[]): Promise<string[]> {
    const dead: string[] = [];
    for (const { pod, state } of pods) {
      if (!isConmonPodState(state)) {
        dead.push(pod.id);
        continue;
      }
      this.running.set(pod.id, { pod, state });
      if (!(await this.alive(pod.id))) dead.push(pod.id);
    }
    dead.forEach((podId) => this.deaths.settle(podId));
    return dead;
  }

  /** Pods whose infra process ends on its own; one without an infra process cannot die apart from its containers. */
  watchDeaths(onDeath: (podId: string) => void): () => void {
    return this.deaths.watch(onDeath);
  }

  private get(podId: string): RunningPod {
    const running = this.running.get(podId);
    if (!running) throw new NotFoundError(`pod sandbox ${podId} does not run here`);
    return running;
  }

  // Without an infra process the pod is its pinned namespaces: nothing there can die.
  private async alive(podId: string): Promise<boolean> {
    const running = this.running.get(podId);
    if (!running) return false;
    return running.state.infra === undefined || isTrackedRunning(running.state.infra);
  }

  /** alive without reading /proc: what a status call can tell at once (see RuntimeHandler.podAlive). */
  looksAlive(podId: string): boolean {
    const running = this.running.get(podId);
    if (!running) return false;
    return running.state.infra === undefined || trackedPidInUse(running.state.infra);
  }

  containerContext(podId: string): PodContainerContext {
    const { state } = this.get(podId);
    return { pidNamespace: state.infra?.pidNamespace, files: state.files };
  }

  /** Nothing for a pod it does not run (one whose record it could not take back). */
  async usage(podId: string): Promise<CgroupUsage> {
    const running = this.running.get(podId);
    return running ? (await hostStatsReader()).usage(running.pod.cgroupPath) : {};
  }

  cgroupPath(podId: string): string {
    return this.get(podId).pod.cgroupPath;
  }

  namespaces(podId: string): PodSandbox['namespaces'] {
    return this.get(podId).pod.namespaces;
  }

  async stop(podId: string): Promise<void> {
    const running = this.running.get(podId);
    if (!running) return;
    this.deaths.settle(podId);
    const { infra, files } = running.state;
    await settle([infra === undefined ? Promise.resolve() : stopInfraProcess(infra), unmountPodShm(files)]);
  }

  /** With nothing recorded (its start was cut short), the infra process is found by its arguments. */
  async remove(podId: string): Promise<void> {
    const running = this.running.get(podId);
    const recorded = running?.state.infra;
    const infras = running ? (recorded ? [recorded] : []) : await findInfraProcesses(PAUSE_PATH, podId);
    await settle(infras.map((infra) => stopInfraProcess(infra)));
    // Older records kept the files elsewhere; the state says where.
    await removePodFiles(running ? dirname(running.state.files.hosts) : join(this.dir, podId));
    this.running.delete(podId);
    this.deaths.forget(podId);
  }
}
