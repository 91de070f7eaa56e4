// The guest the build makes (dist/guest), booted for real under TCG with the arguments a pod VM
// gets: Debian's kernel reaches our init, which mounts the guest root image and starts the agent,
// or, with no agent there, says so and powers the VM off. And the accelerator probe.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { probeAccelerator } from '../oci/vm/accelerator-probe';
import { kernelCommandLine } from '../oci/vm/kernel-params';
import { qemuArgs } from '../oci/vm/qemu-args';
import { waitUntil } from '../system/wait-until';

const QEMU = '/usr/bin/qemu-system-x86_64';
const GUEST = join(__dirname, '..', 'guest');
const KERNEL = join(GUEST, 'vmlinux');
const INITRD = join(GUEST, 'initramfs.img');
// A TCG boot takes a few seconds; a busy machine can make it many more.
const BOOT_MS = 60_000;

describe('the guest', () => {
  let dir: string;
  const qemus: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-guest-'));
  });

  afterEach(async () => {
    for (const qemu of qemus.splice(0)) {
      qemu.kill('SIGKILL');
      await exited(qemu);
    }
    await rm(dir, { recursive: true, force: true });
  });

  const exited = (qemu: ChildProcess): Promise<boolean> => waitUntil(async () => qemu.exitCode !== null || qemu.signalCode !== null, BOOT_MS, 50);

  /** A VM as a pod gets it, with the image `guestRoot` as the guest's userland. */
  const boot = async (guestRoot: string): Promise<{ qemu: ChildProcess; readConsole: () => Promise<string> }> => {
    const sharedDir = join(dir, 'shared');
    await mkdir(sharedDir);
    const consoleLog = join(dir, 'console.log');
    const args = qemuArgs({
      accelerator: 'tcg',
      vcpus: 1,
      memoryMiB: 512,
      kernel: KERNEL,
      initrd: INITRD,
      kernelParams: kernelCommandLine([]),
      consoleLog,
      qmpSocket: join(dir, 'qmp.sock'),
      agentSocket: join(dir, 'agent.sock'),
      pidFile: join(dir, 'qemu.pid'),
      guestRoot,
      sharedDir,
    });
    const qemu = spawn(QEMU, args, { stdio: 'ignore' });
    qemus.push(qemu);
    return { qemu, readConsole: () => readFile(consoleLog, 'utf8').catch(() => '') };
  };

  test('boots to our init, which mounts the guest root image and starts the agent found there', async () => {
    // The agent is compiled by the same build; without it init must say so instead.
    const marker = existsSync(join(GUEST, 'root', 'app', 'dist', 'agent', 'main.js')) ? 'podvisor-init: starting agent' : 'podvisor-init: no agent';
    const { readConsole } = await boot(join(GUEST, 'root.erofs'));
    expect(await waitUntil(async () => (await readConsole()).includes(marker), BOOT_MS, 100)).toBe(true);
    expect(await readConsole()).not.toMatch(/podvisor-init: cannot/);
  }, 2 * BOOT_MS);

  test('with no agent in the guest root, init says so and the VM powers off: QEMU exits by itself', async () => {
    const emptyRoot = join(dir, 'empty-root');
    await mkdir(emptyRoot);
    await promisify(execFile)('mkfs.erofs', ['--quiet', join(dir, 'empty.erofs'), emptyRoot], { timeout: BOOT_MS });
    const { qemu, readConsole } = await boot(join(dir, 'empty.erofs'));
    expect(await exited(qemu)).toBe(true);
    expect(qemu.exitCode).toBe(0);
    expect(await readConsole()).toContain('podvisor-init: no agent');
  }, 2 * BOOT_MS);
});

describe('the accelerator probe', () => {
  test('answers TCG where there is no /dev/kvm, and probes once per process', async () => {
    const probe = probeAccelerator(QEMU, KERNEL, INITRD, BOOT_MS);
    expect(probeAccelerator(QEMU, KERNEL, INITRD, BOOT_MS)).toBe(probe);
    const accelerator = await probe;
    if (existsSync('/dev/kvm')) expect(['kvm', 'tcg']).toContain(accelerator);
    else expect(accelerator).toBe('tcg');
  }, 2 * BOOT_MS);
});
