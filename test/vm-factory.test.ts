// The VM factory as a user of the vm handler sees it: the first pod VM makes a template, later
// ones are clones of it, each still its own machine (its own MAC and address on the pod
// network, its clock set to now), the template is found again after a daemon restart, made
// again after a crash cut its making short, and a pod bigger than the template boots cold.
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { commandLine, processIds } from '../system/process-list';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { command } from './support/net-tools';

const BOOT_MS = 240_000;
const POLL_MS = 200;

const CONFIG = `
[runtime]
default_handler = "runc"
[runtime.handlers.runc]
type = "oci"
runtime_path = "/usr/bin/runc"
[runtime.handlers.vm]
type = "vm"
`;

/** How many times the daemon's log has said `event` (one structured line per event). */
function count(log: string, event: string): number {
  return log.split('\n').filter((line) => line.includes(event)).length;
}

describe('VM pods cloned from a template', () => {
  let daemon: ContainerDaemon;
  // The daemon's log before each restart: a restart starts a new one.
  let earlierLogs = '';
  const log = (): string => earlierLogs + daemon.daemon.log;
  const restart = async (signal: NodeJS.Signals, whileDown?: () => Promise<void>): Promise<void> => {
    earlierLogs += daemon.daemon.log;
    await daemon.restart(0, signal, whileDown);
  };
  const templatesDir = (): string => join(daemon.dirs.runroot, 'handlers', 'vm', 'templates');
  /** Processes whose command line names the handler's templates directory: a template VM being made. */
  const templateVms = async (): Promise<number[]> => {
    const found: number[] = [];
    for (const pid of await processIds()) {
      const args = (await commandLine(pid)) ?? [];
      if (args.some((arg) => arg.includes(templatesDir())) && !args.includes('-incoming')) found.push(pid);
    }
    return found;
  };
  const execSync = (containerId: string, cmd: string[]) => unary(daemon.client, Runtime.execSync, { containerId, cmd, timeout: 30n });
  const podIp = async (podSandboxId: string): Promise<string> => (await unary(daemon.client, Runtime.podSandboxStatus, { podSandboxId, verbose: false })).status?.network?.ip ?? '';
  const runWithContainer = async (name: string, extra = {}): Promise<{ pod: string; app: string }> => {
    const pod = await daemon.runPod(name, 'vm', extra);
    const app = await daemon.createContainer(pod, 'app', ['sleep', '600']);
    await unary(daemon.client, Runtime.startContainer, { containerId: app });
    return { pod, app };
  };

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.29.0/24', { config: CONFIG, gateway: true });
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  test(
    'the first pod VM makes the template and later ones are clones, each with its own address and MAC on the pod network and the clock of now; a restart finds the template again; a bigger pod boots cold; another default size makes another template',
    async () => {
      const first = await runWithContainer('vm-clone-a');
      expect(count(log(), 'VM template made')).toBe(1);
      // Long enough that a clone still on the template's clock would be seconds behind.
      await sleep(8_000);
      const second = await runWithContainer('vm-clone-b');
      expect(count(log(), 'pod VM cloned')).toBe(2);

      // Both clones started with the template's NIC: on one bridge, only their own MACs let them reach each other.
      const [ipA, ipB] = await Promise.all([podIp(first.pod), podIp(second.pod)]);
      expect(ipA).not.toBe(ipB);
      expect((await execSync(first.app, ['busybox', 'ping', '-c', '1', '-W', '10', ipB])).exitCode).toBe(0);
      expect((await execSync(second.app, ['busybox', 'ping', '-c', '1', '-W', '10', ipA])).exitCode).toBe(0);
      // Clones start from one RNG state: the guest kernel's VM generation ID driver reseeds it the moment a clone resumes.
      const vmgenid = await execSync(second.app, ['sh', '-c', 'basename $(readlink /sys/bus/acpi/devices/QEMUVGID:00/physical_node/driver 2>/dev/null || readlink /sys/bus/acpi/devices/QEMUVGID:00/driver)']);
      expect(vmgenid.stdout.toString()).toBe('vmgenid\n');
      const macs = await Promise.all([first.app, second.app].map(async (app) => (await execSync(app, ['cat', '/sys/class/net/eth0/address'])).stdout.toString()));
      expect(macs[0]).not.toBe(macs[1]);
      const guestNow = Number((await execSync(second.app, ['date', '+%s'])).stdout.toString());
      expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(3);

      await restart('SIGKILL');
      const third = await runWithContainer('vm-clone-c');
      expect((await execSync(third.app, ['echo', 'cloned after a restart'])).stdout.toString()).toBe('cloned after a restart\n');
      expect([count(log(), 'VM template made'), count(log(), 'pod VM cloned')]).toEqual([1, 3]);

      // 256 MiB more than the template has: this VM boots.
      const big = await runWithContainer('vm-big', { linux: { resources: { memoryLimitInBytes: 256n << 20n } } });
      expect((await execSync(big.app, ['true'])).exitCode).toBe(0);
      expect(count(log(), 'pod VM booted')).toBe(1);
      for (const { pod } of [first, second, third, big]) await daemon.stopAndRemovePod(pod);

      // Another default size is another template; the old one goes.
      const [oldTemplate] = await readdir(templatesDir());
      await restart('SIGTERM', () => writeFile(daemon.dirs.configFile, `${CONFIG}memory_mib = 384\n`));
      const resized = await runWithContainer('vm-resized');
      const memTotalMiB = Number(/MemTotal:\s+(\d+)/.exec((await execSync(resized.app, ['cat', '/proc/meminfo'])).stdout.toString())?.[1]) / 1024;
      expect(memTotalMiB).toBeLessThan(384);
      expect([count(log(), 'VM template made'), count(log(), 'pod VM cloned')]).toEqual([2, 4]);
      expect(await readdir(templatesDir())).not.toContain(oldTemplate);
      await daemon.stopAndRemovePod(resized.pod);
    },
    BOOT_MS,
  );

  test(
    'a crash while the template is being made leaves no VM behind once the daemon is back, and the next pod makes it anew',
    async () => {
      // Without its template, the handler makes one at the next pod.
      await restart('SIGTERM', () => rm(templatesDir(), { recursive: true, force: true }));
      const made = count(log(), 'VM template made');
      const pending = runWithContainer('vm-crash').catch((error: unknown) => error);
      expect(await waitUntil(async () => (await templateVms()).length > 0, 60_000, POLL_MS)).toBe(true);
      await restart('SIGKILL');
      expect(await pending).toBeInstanceOf(Error);
      expect(await waitUntil(async () => (await templateVms()).length === 0, 30_000, POLL_MS)).toBe(true);

      const after = await runWithContainer('vm-after-crash');
      expect((await execSync(after.app, ['true'])).exitCode).toBe(0);
      expect(count(log(), 'VM template made')).toBe(made + 1);
      expect(await readdir(templatesDir())).toHaveLength(1);
      for (const pod of await daemon.podIds()) await daemon.stopAndRemovePod(pod);
    },
    BOOT_MS,
  );
});

describe('VM pods taken from the warm cache', () => {
  let daemon: ContainerDaemon;
  let earlierLogs = '';
  const log = (): string => earlierLogs + daemon.daemon.log;
  const warmDir = (): string => join(daemon.dirs.runroot, 'handlers', 'vm', 'warm');
  /** QEMU processes started as warm clones: waiting ones and those a pod took over. */
  const warmQemus = async (): Promise<number[]> => {
    const found: number[] = [];
    for (const pid of await processIds()) if (((await commandLine(pid)) ?? []).some((arg) => arg.startsWith(`${warmDir()}/`))) found.push(pid);
    return found;
  };
  const waitForLog = async (event: string, times: number): Promise<void> => {
    if (!(await waitUntil(async () => count(log(), event) >= times, BOOT_MS / 2, POLL_MS))) throw new Error(`"${event}" not logged ${times} times:\n${log()}`);
  };

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.30.0/24', { config: `${CONFIG}warm_clones = 1\n`, gateway: true });
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  test(
    'a clone waits ready from the start; a pod takes it over, with its own address, and another takes its place; a crashed daemon\'s waiting clone is ended at the next start, the pod\'s runs on; a stopped daemon leaves none, not even one still starting',
    async () => {
      await waitForLog('warm VM ready', 1);
      const pod = await daemon.runPod('vm-warm', 'vm');
      expect(count(log(), 'pod VM taken warm')).toBe(1);
      const app = await daemon.createContainer(pod, 'app', ['sleep', '600']);
      await unary(daemon.client, Runtime.startContainer, { containerId: app });
      const ip = (await unary(daemon.client, Runtime.podSandboxStatus, { podSandboxId: pod, verbose: false })).status?.network?.ip ?? '';
      await command('busybox', ['ping', '-c', '1', '-W', '10', ip]);
      await waitForLog('warm VM ready', 2);
      expect(await warmQemus()).toHaveLength(2);

      earlierLogs += daemon.daemon.log;
      await daemon.restart(0, 'SIGKILL');
      await waitForLog('warm VM ready', 3);
      expect(await warmQemus()).toHaveLength(2);
      expect((await unary(daemon.client, Runtime.execSync, { containerId: app, cmd: ['echo', 'still here'], timeout: 30n })).stdout.toString()).toBe('still here\n');

      await daemon.stopAndRemovePod(pod);
      earlierLogs += daemon.daemon.log;
      await daemon.restart(0, 'SIGTERM', async () => expect(await warmQemus()).toEqual([]));
      // Stopped again while its new clone is still starting: that one ends too.
      await daemon.restart(0, 'SIGTERM', async () => expect(await warmQemus()).toEqual([]));
      expect(await waitUntil(async () => (await warmQemus()).length === 1, 60_000, POLL_MS)).toBe(true);
      await daemon.restart(0, 'SIGTERM', async () => expect(await warmQemus()).toEqual([]));
    },
    BOOT_MS,
  );
});
