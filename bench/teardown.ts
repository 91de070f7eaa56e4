import { rm } from 'node:fs/promises';
import { errorCode } from '../system/error-code';
import { readMountInfo } from '../system/mountinfo';
import { runTool } from '../system/run-tool';
import type { DaemonProcess } from '../testbed/daemon-process';
import { removeBridge, type BenchNetwork } from './cni-network';
import { listProcesses, processesUnder } from './processes';

async function stopDaemon(daemon: DaemonProcess): Promise<void> {
  await daemon.stop().catch(() => daemon.stop('SIGKILL'));
}

const UMOUNT_TIMEOUT_MS = 10_000;

/** Detaches every mount under `dir`, innermost first; lazily, so a busy one cannot stop the cleanup. */
async function unmountUnder(dir: string): Promise<void> {
  const points = (await readMountInfo()).map((mount) => mount.mountPoint).filter((point) => point.startsWith(`${dir}/`));
  for (const point of points.sort((a, b) => b.length - a.length)) await runTool('umount', ['--lazy', point], { timeoutMs: UMOUNT_TIMEOUT_MS });
}

function killProcess(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if (errorCode(error) !== 'ESRCH') throw error;
  }
}

/**
 * Removes every trace of one runtime once its pods are gone (or could not be removed): its
 * daemon, any process still running from its directory (a monitor, a daemon that never came
 * up), mounts under that directory, its bridge, and the directory itself.
 */
export async function removeRuntimeTraces(dir: string, network: BenchNetwork, daemon: DaemonProcess | undefined): Promise<void> {
  if (daemon) await stopDaemon(daemon);
  for (const pid of processesUnder(await listProcesses(), dir)) killProcess(pid);
  await unmountUnder(dir);
  await removeBridge(network);
  await rm(dir, { recursive: true, force: true });
}
