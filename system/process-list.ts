import { readFile, readdir } from 'node:fs/promises';
import { errorCode } from './error-code';

/** The pids of every process on the host now. */
export async function processIds(): Promise<number[]> {
  return (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
}

/** A file under /proc/PID, or undefined when the process exited between listing /proc and reading it. */
export async function readProcessFile(pid: number, name: string): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/${name}`, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ESRCH') return undefined;
    throw error;
  }
}

/** The process's arguments, argv[0] first; undefined once it is gone. */
export async function commandLine(pid: number): Promise<string[] | undefined> {
  const text = await readProcessFile(pid, 'cmdline');
  // Each argument ends with a NUL, the last one too.
  return text?.replace(/\0$/, '').split('\0');
}
