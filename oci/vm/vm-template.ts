// The VM factory's template: one VM per configuration, booted until its agent answers, then
// stopped with its RAM in a file and its device state saved. A pod VM of the template's size is
// a clone of it: a new QEMU mapping that file copy-on-write and resuming from the saved state,
// running in a tenth of a second where a boot takes seconds, and sharing the template's pages.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../system/atomic-file';
import { errorMessage } from '../../system/errors';
import type { Logger } from '../../system/logger';
import { SingleFlight } from '../../system/single-flight';
import { stopTrackedProcess } from '../../system/tracked-process';
import { AGENT_CALL_TIMEOUT_MS, type AgentListeners } from './agent-client';
import { findQemuProcesses } from './qemu-process';
import { QmpClient } from './qmp-client';
import { type VmPaths, type VmSettings, startVm, vmArgs, vmPaths, whileQemuLives } from './vm-boot';
import { saveVmState } from './vm-snapshot';
import type { VmSize } from './vm-size';

/** A saved template: what a clone maps and resumes from. */
export interface VmTemplate {
  key: string;
  memoryPath: string;
  statePath: string;
  /** The template NIC's MAC, which every clone's guest starts with (the agent then sets the pod's). */
  mac: string;
  size: VmSize;
}

interface TemplateRecord {
  key: string;
  mac: string;
  size: VmSize;
  savedAt: string;
}

// Locally administered, so it collides with no vendor's; never seen on a network: the agent
// gives the NIC the pod interface's MAC before bringing it up.
const TEMPLATE_MAC = '02:00:00:00:70:76';
const RECORD = 'template.json';
const SAVE_TIMEOUT_MS = 60_000;
const QMP_TIMEOUT_MS = 5_000;
const QUIT_TIMEOUT_MS = 5_000;
// A failed build (a QEMU that cannot migrate, a full disk) is not retried by every pod: they
// boot cold meanwhile.
const RETRY_AFTER_MS = 60_000;

/** What a file is, cheaply: a rebuilt kernel or guest root is a new file (written then renamed). */
async function fileIdentity(path: string): Promise<string> {
  const { dev, ino, size, mtimeMs } = await stat(path);
  return `${dev}:${ino}:${size}:${mtimeMs}`;
}

/**
 * Everything a template depends on: the files QEMU and the guest are made of, and QEMU's
 * arguments (machine, devices, sizes, kernel command line) with its own paths left out. A
 * change in any of it makes another template: a clone must have exactly its template's devices.
 */
async function templateKey(settings: VmSettings): Promise<string> {
  const files = await Promise.all([settings.qemuPath, settings.kernelPath, settings.initrdPath, settings.guestRoot].map(fileIdentity));
  const size = { vcpus: settings.vcpus, memoryMiB: settings.memoryMiB };
  const args = vmArgs(settings, size, { from: 'boot', templateMemory: '' }, vmPaths('', ''), { mac: TEMPLATE_MAC });
  return createHash('sha256').update(JSON.stringify({ files, args })).digest('hex').slice(0, 32);
}

async function readRecord(path: string): Promise<TemplateRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(path, 'utf8')) as Partial<TemplateRecord>;
    return typeof record.key === 'string' && typeof record.mac === 'string' && typeof record.size?.memoryMiB === 'number' ? (record as TemplateRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The templates of one vm handler, under its directory; they outlive a daemon restart. */
export class VmTemplates {
  private readonly builds = new SingleFlight<VmTemplate | undefined>();
  private failed: { key: string; at: number } | undefined;

  constructor(
    private readonly dir: string,
    private readonly socketDir: string,
    private readonly listeners: AgentListeners,
    private readonly logger: Logger,
  ) {}

  /**
   * The template of these settings: found on disk, else made now (pods asking meanwhile wait
   * for the same one). Undefined when it cannot be made; the caller then boots cold.
   */
  async template(settings: VmSettings): Promise<VmTemplate | undefined> {
    const key = await templateKey(settings);
    return this.builds.run(key, async () => {
      const found = await this.load(key);
      if (found) return found;
      if (this.failed?.key === key && Date.now() - this.failed.at < RETRY_AFTER_MS) return undefined;
      try {
        const made = await this.build(key, settings);
        this.failed = undefined;
        return made;
      } catch (error) {
        this.failed = { key, at: Date.now() };
        this.logger.error('cannot make the VM template; pod VMs boot cold', { template: key, error: errorMessage(error) });
        return undefined;
      }
    });
  }

  private paths(key: string): VmPaths {
    return vmPaths(join(this.dir, key), join(this.socketDir, `template-${key.slice(0, 16)}`));
  }

  private saved(key: string, record: TemplateRecord): VmTemplate {
    const { dir } = this.paths(key);
    return { key, memoryPath: join(dir, 'memory'), statePath: join(dir, 'state'), mac: record.mac, size: record.size };
  }

  /** A template is whole once its record is written, after the memory and state files. */
  private async load(key: string): Promise<VmTemplate | undefined> {
    const record = await readRecord(join(this.paths(key).dir, RECORD));
    return record?.key === key ? this.saved(key, record) : undefined;
  }

  private async build(key: string, settings: VmSettings): Promise<VmTemplate> {
    const started = Date.now();
    const paths = this.paths(key);
    await this.discard(key);
    // The placeholder a clone's pod shared directory replaces: the guest mounts it only later.
    await mkdir(paths.shared, { recursive: true, mode: 0o700 });
    await mkdir(this.socketDir, { recursive: true, mode: 0o700 });
    const size = { vcpus: settings.vcpus, memoryMiB: settings.memoryMiB };
    const record: TemplateRecord = { key, mac: TEMPLATE_MAC, size, savedAt: '' };
    const template = this.saved(key, record);
    const vm = `the template VM ${key}`;
    const { qemu, agent } = await startVm(vm, settings, size, { from: 'boot', templateMemory: template.memoryPath }, paths, { mac: TEMPLATE_MAC }, this.listeners).catch(async (error: unknown) => {
      await this.discard(key);
      throw error;
    });
    // Saved once the agent answers, after calls every clone gets at once (the first of a kind
    // costs the agent's Node ~0.3 s under TCG to compile): clones start with that done. A build
    // that fails on the way leaves neither its QEMU nor its files (the memory alone is the VM's size).
    try {
      try {
        await agent.syncClockAndEntropy(AGENT_CALL_TIMEOUT_MS);
      } finally {
        agent.close();
      }
      const qmp = await QmpClient.connect(paths.qmpSocket, QMP_TIMEOUT_MS);
      try {
        await whileQemuLives(vm, paths, qemu, () => saveVmState(qmp, template.statePath, `${paths.qmpSocket}.migrate`, SAVE_TIMEOUT_MS));
        await qmp.quit(QUIT_TIMEOUT_MS);
      } finally {
        qmp.close();
      }
      await stopTrackedProcess(qemu, 'QEMU', QUIT_TIMEOUT_MS, undefined);
    } catch (error) {
      await this.discard(key);
      throw error;
    }
    await writeFileAtomic(join(paths.dir, RECORD), JSON.stringify({ ...record, savedAt: new Date().toISOString() }));
    this.logger.info('VM template made', { handler_dir: this.dir, template: key, vcpus: size.vcpus, memory_mib: size.memoryMiB, build_ms: Date.now() - started });
    await this.discardAllBut(key);
    return template;
  }

  /** At start: a template whose build a crash cut short goes, with its QEMU. */
  async recover(): Promise<void> {
    const names = await readdir(this.dir).catch(() => []);
    for (const name of names) {
      if ((await readRecord(join(this.paths(name).dir, RECORD)))?.key === name) continue;
      this.logger.warn('removing a VM template whose making was cut short', { template: name });
      await this.discard(name);
    }
  }

  /** A template's files, and its QEMU if a crash cut its build short. */
  private async discard(key: string): Promise<void> {
    const paths = this.paths(key);
    for (const qemu of await findQemuProcesses(paths.pidFile)) await stopTrackedProcess(qemu, 'QEMU', 0, undefined);
    await Promise.all([rm(paths.dir, { recursive: true, force: true }), rm(paths.qmpSocket, { force: true }), rm(paths.agentSocket, { force: true })]);
  }

  /**
   * Templates of an older configuration. Their running clones keep their private mappings of
   * the memory file, so removing it takes nothing from them.
   */
  private async discardAllBut(key: string): Promise<void> {
    const names = await readdir(this.dir).catch(() => []);
    await Promise.all(names.filter((name) => name !== key).map((name) => this.discard(name)));
  }
}
