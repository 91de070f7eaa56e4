import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failedPrecondition } from './agent-error';
import { waitUntil } from '../system/wait-until';
import { runProgram } from './run-program';

const UNSHARE = '/bin/unshare';
const MOUNT = '/bin/mount';
const UMOUNT = '/bin/umount';
// unshare forks the holder at once; this is plenty even under TCG.
const HOLDER_WAIT_MS = 10_000;
const HOLDER_POLL_MS = 20;

/**
 * The pod-wide PID namespace for a pod that shares one (shareProcessNamespace): a pause
 * process is its PID 1, as the pod's infra process is on the host, and its namespace file is
 * bind-mounted where the containers' specs name it.
 */
export class PodPidNamespace {
  private holder: { unshare: ChildProcess; pause: number } | undefined;

  constructor(
    /** Where the containers' specs say the pod's PID namespace is. */
    private readonly path: string,
    private readonly pausePath: string,
  ) {}

  async create(): Promise<void> {
    if (this.holder) return;
    const unshare = spawn(UNSHARE, ['--pid', '--fork', this.pausePath], { stdio: 'ignore' });
    const pause = await this.childOf(unshare);
    this.holder = { unshare, pause };
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(this.path, '');
    await runProgram(MOUNT, ['--bind', `/proc/${pause}/ns/pid`, this.path]);
  }

  /** The pid of the process `parent` forked, once it has. */
  private async childOf(parent: ChildProcess): Promise<number> {
    let child = 0;
    const forked = async (): Promise<boolean> => {
      // A parent that ended will fork nothing more.
      if (parent.pid === undefined || parent.exitCode !== null) return true;
      child = Number.parseInt(await readFile(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').catch(() => ''), 10);
      return child > 0;
    };
    if ((await waitUntil(forked, HOLDER_WAIT_MS, HOLDER_POLL_MS)) && child > 0) return child;
    parent.kill('SIGKILL');
    throw failedPrecondition(`the pod's PID namespace holder did not start within ${HOLDER_WAIT_MS} ms`);
  }

  async destroy(): Promise<void> {
    if (!this.holder) return;
    await runProgram(UMOUNT, [this.path]).catch(() => undefined);
    // The pause is the namespace's PID 1: when it ends, the kernel ends the rest of it.
    try {
      process.kill(this.holder.pause, 'SIGKILL');
    } catch {
      // Gone already.
    }
    this.holder = undefined;
  }
}
