import { open, readFile, unlink } from 'node:fs/promises';
import { readStat } from './process-stat';

export class LockHeldError extends Error {}

/** Start time of a process in clock ticks since boot, to tell it from a later one with its PID. */
async function processStartTime(pid: number): Promise<string | undefined> {
  return (await readStat(pid).catch(() => undefined))?.startTime;
}

/**
 * A lock file holding "PID STARTTIME" of the daemon that owns a state directory, so two
 * daemons never share one root. A lock whose process is gone (or whose PID now belongs to
 * another process) is stale and taken over.
 */
export class InstanceLock {
  private constructor(private readonly path: string) {}

  static async acquire(path: string): Promise<InstanceLock> {
    const mine = `${process.pid} ${await processStartTime(process.pid)}\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx', 0o600);
        await handle.writeFile(mine);
        await handle.close();
        return new InstanceLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const [pid, started] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
      if (pid && started && (await processStartTime(Number(pid))) === started) {
        throw new LockHeldError(`${path} is held by running process ${pid}`);
      }
      await unlink(path).catch(() => undefined);
    }
    throw new LockHeldError(`${path}: another process keeps taking the lock`);
  }

  async release(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}
