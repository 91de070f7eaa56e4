import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { kernelCommandLine } from './kernel-params';

// Printed by the guest's init (agent/init/init.sh) on every line it writes.
const INIT_MARKER = 'podvisor-init:';

/** Whether QEMU with this accelerator gets the guest kernel as far as our init within `timeoutMs`. */
function bootsToInit(qemuPath: string, accelerator: 'kvm' | 'tcg', kernel: string, initrd: string, timeoutMs: number): Promise<boolean> {
  const args = [
    '-machine', `q35,accel=${accelerator}`, '-cpu', accelerator === 'kvm' ? 'host' : 'max', '-m', '256M',
    '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
    '-kernel', kernel, '-initrd', initrd, '-append', kernelCommandLine([]), '-serial', 'stdio',
  ];
  return new Promise((resolve) => {
    const qemu = spawn(qemuPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let console = '';
    const finish = (booted: boolean): void => {
      clearTimeout(timer);
      qemu.kill('SIGKILL');
      resolve(booted);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    qemu.stdout.setEncoding('utf8');
    qemu.stdout.on('data', (chunk: string) => {
      console += chunk;
      if (console.includes(INIT_MARKER)) finish(true);
    });
    qemu.on('error', () => finish(false));
    qemu.on('exit', () => finish(console.includes(INIT_MARKER)));
  });
}

/**
 * KVM only where it really works: /dev/kvm must be there and a short test boot under it must
 * reach our init in time (on some machines /dev/kvm exists and a guest hangs at boot); TCG
 * otherwise.
 */
export async function probeAccelerator(qemuPath: string, kernel: string, initrd: string, timeoutMs: number): Promise<'kvm' | 'tcg'> {
  const usable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  if (!usable) return 'tcg';
  return (await bootsToInit(qemuPath, 'kvm', kernel, initrd, timeoutMs)) ? 'kvm' : 'tcg';
}
