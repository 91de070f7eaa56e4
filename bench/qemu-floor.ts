import { performance } from 'node:perf_hooks';
import { VM_HANDLER_DEFAULTS } from '../config/config';
import { handlerAccelerator } from '../oci/vm/accelerator-probe';
import { kernelCommandLine } from '../oci/vm/kernel-params';
import { machineArgs } from '../oci/vm/qemu-args';
import { runTool } from '../system/run-tool';
import { runPool } from './pool';
import type { Timings } from './timings';

export const QEMU_FLOOR = 'bare QEMU boot to init';

// busybox's poweroff (in the initramfs) as the guest's first process: the VM ends the moment
// init would have started, and -f powers off without asking an init that is not there.
const POWEROFF_AS_INIT = ['rdinit=/bin/poweroff', '--', '-f'];
// What the kernel prints as it powers off (at emergency level, so even with `quiet`). A kernel
// that never reaches init panics instead, and with panic=1 and -no-reboot QEMU exits 0 as well.
const POWER_DOWN = 'reboot: Power down';
// A TCG boot takes seconds; on a machine busy with other VMs, many.
const BOOT_TIMEOUT_MS = 120_000;

export interface QemuFloorOptions {
  boots: number;
  signal: AbortSignal;
}

/** One boot of the vm handler's default machine, kernel and initramfs, from QEMU's spawn to its exit. */
async function bootOnce(args: string[], timings: Timings | undefined): Promise<void> {
  const started = performance.now();
  const { exitCode, stdout, stderr } = await runTool(VM_HANDLER_DEFAULTS.qemu_path, args, { timeoutMs: BOOT_TIMEOUT_MS });
  const ms = performance.now() - started;
  if (exitCode !== 0 || !stdout.includes(POWER_DOWN)) {
    const tail = stdout.trim().split('\n').slice(-8).join(' / ');
    throw new Error(`a bare QEMU boot did not reach init (exit code ${exitCode}): ${stderr.trim() || 'QEMU said nothing'}; the console: ${tail || 'nothing'}`);
  }
  timings?.record(QEMU_FLOOR, ms);
}

/**
 * What a VM pod's boot cannot go below here: QEMU with the vm handler's machine arguments,
 * accelerator, kernel, initramfs and kernel command line (default size, no devices), whose
 * init powers the VM off at once; `boots` times one after another, after one untimed boot
 * that warms the page cache. Each boot must print the kernel's power-down line, so a kernel
 * that panics cannot pass for a fast one. Answers the accelerator used.
 */
export async function measureQemuFloor(timings: Timings, options: QemuFloorOptions): Promise<'kvm' | 'tcg'> {
  const config = VM_HANDLER_DEFAULTS;
  const accelerator = await handlerAccelerator(config);
  const machine = {
    accelerator,
    vcpus: config.vcpus,
    memoryMiB: config.memory_mib,
    kernel: config.kernel_path,
    initrd: config.initrd_path,
    kernelParams: kernelCommandLine([...config.kernel_params, ...POWEROFF_AS_INIT]),
  };
  const args = [...machineArgs(machine), '-serial', 'stdio'];
  await bootOnce(args, undefined);
  await runPool(options.boots, 1, options.signal, () => bootOnce(args, timings));
  return accelerator;
}
