// The VM factory's warm cache: clones of the template already running, their agent answering,
// each on a TAP of its own in the host's namespace, waiting for a pod. A pod takes one over
// (its TAP moves into the pod's namespace, QEMU into the pod's cgroup, its directory and
// sockets to the pod's paths) and another is started in the background to take its place.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../system/errors';
import type { Logger } from '../../system/logger';
import { commandLine, processIds } from '../../system/process-list';
import { type TrackedProcess, stopTrackedProcess, trackProcess } from '../../system/tracked-process';
import { waitUntil } from '../../system/wait-until';
import { joinPodCgroup } from '../cgroups/pod-cgroup';
import type { AgentClient, AgentListeners } from './agent-client';
import { addHostTap, deleteHostTap, moveTapIntoPod, type TapNames } from './pod-tap';
import { type VmPaths, type VmSettings, startVm, vmPaths } from './vm-boot';
import type { VmTemplate, VmTemplates } from './vm-template';

/** A running clone that no pod has yet. */
export interface WarmVm {
  name: string;
  paths: VmPaths;
  qemu: TrackedProcess;
  agent: AgentClient;
  /** Its TAP in the host's namespace. */
  tap: string;
  template: VmTemplate;
}

const TAP_FILE = 'tap';
const CLOSE_TIMEOUT_MS = 30_000;
const CLOSE_POLL_MS = 200;

/** The clones kept ready for one vm handler. */
export class WarmClones {
  private readonly ready: WarmVm[] = [];
  private filling: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly socketDir: string,
    private readonly count: number,
    private readonly templates: VmTemplates,
    private readonly settings: () => Promise<VmSettings>,
    private readonly listeners: AgentListeners,
    private readonly logger: Logger,
  ) {}

  /** A ready clone of `template`, if one waits; taking one starts another. */
  take(template: VmTemplate): WarmVm | undefined {
    const index = this.ready.findIndex((vm) => vm.template.key === template.key);
    const [vm] = index < 0 ? [] : this.ready.splice(index, 1);
    this.fill();
    return vm;
  }

  /**
   * Gives the clone to the pod: its TAP, its cgroup, and its files at the pod's paths (QEMU
   * holds its shared directory, logs and sockets open or bound, so renaming them takes nothing
   * from it). On failure the clone is ended.
   */
  async adopt(vm: WarmVm, podPaths: VmPaths, netns: string, cgroupPath: string, tap: TapNames): Promise<void> {
    try {
      await moveTapIntoPod(vm.tap, netns, tap);
      await joinPodCgroup(cgroupPath, vm.qemu.pid);
      await rename(vm.paths.dir, podPaths.dir);
      await Promise.all([rename(vm.paths.qmpSocket, podPaths.qmpSocket), rename(vm.paths.agentSocket, podPaths.agentSocket)]);
    } catch (error) {
      await this.end(vm);
      throw error;
    }
  }

  /** Starts clones in the background, one at a time, until `count` wait. */
  fill(): void {
    if (this.count === 0 || this.closed || this.filling) return;
    this.filling = (async () => {
      while (!this.closed && this.ready.length < this.count) {
        const vm = await this.startOne();
        if (vm === undefined) return;
        if (this.closed) await this.end(vm);
        else this.ready.push(vm);
      }
    })()
      .catch((error: unknown) => {
        if (this.closed) return;
        this.logger.error('cannot start a warm VM; pods are cloned when they come', { handler_dir: this.dir, error: errorMessage(error) });
      })
      .finally(() => (this.filling = undefined));
  }

  private async startOne(): Promise<WarmVm | undefined> {
    const settings = await this.settings();
    const template = settings.template ? await this.templates.template(settings) : undefined;
    if (template === undefined || this.closed) return undefined;
    // Never a name an earlier daemon gave a clone a pod still runs on; as a TAP's name (15
    // characters at most) unique among daemons that share a host.
    const name = randomBytes(6).toString('hex');
    const paths = vmPaths(join(this.dir, name), join(this.socketDir, `warm-${name}`));
    const tap = `pvw${name}`;
    await mkdir(paths.shared, { recursive: true, mode: 0o700 });
    await writeFile(join(paths.dir, TAP_FILE), tap);
    try {
      await addHostTap(tap);
      const { qemu, agent } = await startVm(`the warm VM ${name}`, settings, template.size, { from: 'template', template }, paths, { tapName: tap, mac: template.mac }, this.listeners);
      this.logger.info('warm VM ready', { handler_dir: this.dir, vm: name, pid: qemu.pid, template: template.key });
      return { name, paths, qemu, agent, tap, template };
    } catch (error) {
      await this.discard(paths);
      throw error;
    }
  }

  private async end(vm: WarmVm): Promise<void> {
    vm.agent.close();
    await stopTrackedProcess(vm.qemu, 'QEMU', 0, undefined);
    await this.discard(vm.paths);
  }

  /** A clone's QEMU (a warm one has nothing to save), TAP and files. */
  private async discard(paths: VmPaths): Promise<void> {
    await this.stopQemus(new Set(), paths.dir);
    const tap = await readFile(join(paths.dir, TAP_FILE), 'utf8').catch(() => undefined);
    if (tap !== undefined) await deleteHostTap(tap);
    await Promise.all([rm(paths.dir, { recursive: true, force: true }), rm(paths.qmpSocket, { force: true }), rm(paths.agentSocket, { force: true })]);
  }

  /** Ends every QEMU whose arguments name a path under `under`, but the pods' own. */
  private async stopQemus(podQemus: Set<number>, under: string): Promise<void> {
    for (const pid of await processIds()) {
      if (podQemus.has(pid) || !(await commandLine(pid))?.some((arg) => arg.startsWith(`${under}/`))) continue;
      const qemu = await trackProcess(pid);
      if (qemu) await stopTrackedProcess(qemu, 'QEMU', 0, undefined);
    }
  }

  /**
   * At start: the clones a previous daemon left are ended, those a pod had just taken over
   * (`podQemus`) excepted, and new ones are started.
   */
  async recover(podQemus: Set<number>): Promise<void> {
    await this.stopQemus(podQemus, this.dir);
    const names = await readdir(this.dir).catch(() => []);
    await Promise.all(names.map((name) => this.discard(vmPaths(join(this.dir, name), join(this.socketDir, `warm-${name}`)))));
    this.fill();
  }

  /** At daemon stop: the clones no pod has end with it, one still starting too. */
  async close(podQemus: Set<number>): Promise<void> {
    this.closed = true;
    await Promise.all(this.ready.splice(0).map((vm) => this.end(vm)));
    // One still starting is killed once it runs, or sees `closed` before it is launched.
    await waitUntil(
      async () => {
        await this.stopQemus(podQemus, this.dir);
        return this.filling === undefined;
      },
      CLOSE_TIMEOUT_MS,
      CLOSE_POLL_MS,
    );
  }
}
