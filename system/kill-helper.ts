// Ending a helper that overran, with whatever it started, so none of it outlives the call.
import { errorCode } from './error-code';
import { processIds } from './process-list';
import { readStat } from './process-stat';

/** Sends a signal; a process already gone is no error. Answers whether the signal was sent. */
export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if (errorCode(error) !== 'ESRCH') throw error;
    return false;
  }
}

/**
 * SIGKILL to every process in the group `pid` leads (a helper started in a session of its own,
 * and its children), or to the process alone when it leads no group.
 */
export function killProcessGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    if (errorCode(error) !== 'ESRCH') throw error;
    signal(pid, 'SIGKILL');
  }
}

/** `root` and every process below it, by parent pid. */
async function processTree(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const pid of await processIds()) {
    const stat = await readStat(pid);
    if (stat !== undefined) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/**
 * SIGKILL to `root` and all its descendants, also those that left its process group (conmon
 * starts the OCI runtime in a session of its own). They are stopped first, so none forks or is
 * orphaned (and so lost from the tree) while the tree is read again and killed.
 */
export async function killProcessTree(root: number): Promise<void> {
  for (const pid of await processTree(root)) signal(pid, 'SIGSTOP');
  for (const pid of await processTree(root)) signal(pid, 'SIGKILL');
}
