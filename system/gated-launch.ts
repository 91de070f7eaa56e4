// A program that starts its work only once let go, as conmon waits on its start pipe so that it
// can be moved into its cgroup first, and then reports on a pipe of its own. Both the launch and
// the letting go run on the tool thread: the fork blocks that thread, not the daemon's replies.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { DeadlineExceededError, InternalError, errorMessage } from './errors';
import { toolThread } from './tool-thread-client';

/** The program's fds: it reports on REPORT_FD, and waits for a byte on START_FD. */
const REPORT_FD = 3;
const START_FD = 4;

export interface GatedLaunch {
  file: string;
  args: string[];
  cwd: string;
  /** Added to the daemon's environment: where the program finds its pipes, say. */
  env: Record<string, string>;
  /** The program's stderr: a file the daemon holds open. */
  stderrFd: number;
}

export interface GatedRelease {
  pid: number;
  timeoutMs: number;
  /** The error of a program that reports nothing within timeoutMs. */
  overrun: string;
}

// The launched programs waiting to be let go, on the tool thread.
const waiting = new Map<number, ChildProcess>();

/** On the tool thread: starts the program in a session of its own; resolves its pid. */
export function spawnGated(launch: GatedLaunch): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(launch.file, launch.args, {
      // A session of its own: stopping the daemon does not stop it.
      detached: true,
      cwd: launch.cwd,
      env: { ...process.env, ...launch.env },
      stdio: ['ignore', 'ignore', launch.stderrFd, 'pipe', 'pipe'],
    });
    child.unref();
    child.once('error', (error) => reject(new InternalError(`cannot run ${launch.file}: ${errorMessage(error)}`)));
    child.once('spawn', () => {
      if (child.pid === undefined) return;
      waiting.set(child.pid, child);
      resolve(child.pid);
    });
  });
}

/** The first line on `pipe`, or what came before it ended (undefined for nothing). */
function firstLine(pipe: Readable, timeoutMs: number, overrun: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new DeadlineExceededError(overrun)), timeoutMs);
    const done = (line: string | undefined): void => {
      clearTimeout(timer);
      resolve(line);
    };
    pipe.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end >= 0) done(text.slice(0, end));
    });
    pipe.on('error', () => undefined);
    pipe.once('end', () => done(text === '' ? undefined : text));
  });
}

/** On the tool thread: lets the program go and answers the first line it reports. */
export async function releaseSpawned(release: GatedRelease): Promise<string | undefined> {
  const child = waiting.get(release.pid);
  waiting.delete(release.pid);
  const [report, start] = [child?.stdio[REPORT_FD], child?.stdio[START_FD]];
  if (!report || !('read' in report) || !start || !('write' in start)) throw new InternalError(`no program ${release.pid} waits to be let go`);
  // One that died early makes this write fail; its report pipe says so.
  start.on('error', () => undefined);
  start.end('0');
  try {
    return await firstLine(report, release.timeoutMs, release.overrun);
  } finally {
    // It may report again later (conmon does when the container exits): nothing listens then.
    report.destroy();
  }
}

/**
 * Launches `launch.file`, which waits on fd 4 to be let go and reports on fd 3; resolves its
 * pid once it runs. Every launch must be let go with letGo, killed or not.
 */
export function launchGated(launch: GatedLaunch): Promise<number> {
  return toolThread.run('launch', launch);
}

/**
 * Lets the launched program `pid` go; resolves the first line it reports, or undefined when it
 * ends its report pipe unsaid. Rejects with DeadlineExceededError (`overrun`) after timeoutMs.
 */
export function letGo(pid: number, timeoutMs: number, overrun: string): Promise<string | undefined> {
  return toolThread.run('release', { pid, timeoutMs, overrun });
}
