import { readFile } from 'node:fs/promises';
import { errorCode } from './error-code';

/** Fields of /proc/<pid>/stat: whether a process is still the one we started and alive, and what it costs. */
export interface ProcessStat {
  /** The executable's name, at most 15 characters. */
  comm: string;
  /** R, S, D, Z (zombie), X (dead)... */
  state: string;
  ppid: number;
  /** User plus system CPU time so far, in clock ticks. */
  cpuTicks: number;
  /** Clock ticks after boot; with the pid it names one process even across pid reuse. */
  startTime: string;
}

/** The process's stat fields, or undefined when no process has that pid. */
export async function readStat(pid: number): Promise<ProcessStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ESRCH') return undefined;
    throw error;
  }
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are plain.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    state: fields[0],
    ppid: Number(fields[1]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    startTime: fields[19],
  };
}

/** Whether `pid` is a process that has not exited; a zombie waiting to be reaped has. */
export async function isProcessRunning(pid: number): Promise<boolean> {
  const stat = await readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}
