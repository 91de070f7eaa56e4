import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { VmHandlerConfig } from '../../config/config';
import { kernelCommandLine } from './kernel-params';
import { machineArgs } from './qemu-args';

// A test boot that reaches the guest's init in time shows the accelerator works.
const PROBE_TIMEOUT_MS = 20_000;

// Printed by the guest's init (agent/init/init.sh) on every line it writes.
const INIT_MARKER = 'podvisor-init:';

/** Whether QEMU with this accelerator gets the guest kernel as far as our init within `timeoutMs`. */
function bootsToInit(qemuPath: string, accelerator: 'kvm' | 'tcg', kernel: string, initrd: string, timeoutMs: number): Promise<boolean> {
  // No devices: our init gets as far as printing that the guest root is missing, which is far enough.
  const args = [...machineArgs({ accelerator, vcpus: 1, memoryMiB: 256, kernel, initrd, kernelParams: kernelCommandLine([]) }), '-serial', 'stdio'];
  return new Promise((resolve) => {
    const qemu = spawn(qemuPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    const finish = (booted: boolean): void => {
      clearTimeout(timer);
      qemu.kill('SIGKILL');
      resolve(booted);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    qemu.stdout.setEncoding('utf8');
    qemu.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes(INIT_MARKER)) finish(true);
    });
    qemu.on('error', () => finish(false));
    qemu.on('exit', () => finish(output.includes(INIT_MARKER)));
  });
}

// A probe boots a VM: each QEMU and guest is probed once per process.
const probes = new Map<string, Promise<'kvm' | 'tcg'>>();

/**
 * KVM only where it really works: /dev/kvm must be there and a short test boot under it must
 * reach our init in time (on some machines /dev/kvm exists and a guest hangs at boot); TCG
 * otherwise. The answer is remembered for the life of the process.
 */
export function probeAccelerator(qemuPath: string, kernel: string, initrd: string, timeoutMs: number): Promise<'kvm' | 'tcg'> {
  const key = JSON.stringify([qemuPath, kernel, initrd]);
  let probe = probes.get(key);
  if (probe === undefined) {
    probe = access('/dev/kvm', constants.R_OK | constants.W_OK).then(
      async () => ((await bootsToInit(qemuPath, 'kvm', kernel, initrd, timeoutMs)) ? 'kvm' : 'tcg'),
      () => 'tcg' as const,
    );
    probes.set(key, probe);
  }
  return probe;
}

/** The accelerator a vm handler's VMs run on: the configured one, or the probe's answer for "auto". */
export function handlerAccelerator(config: VmHandlerConfig): Promise<'kvm' | 'tcg'> {
  if (config.accelerator !== 'auto') return Promise.resolve(config.accelerator);
  return probeAccelerator(config.qemu_path, config.kernel_path, config.initrd_path, PROBE_TIMEOUT_MS);
}
