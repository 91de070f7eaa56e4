// A program that starts its work only once let go, as conmon waits on its start pipe so that it
// can be moved into its cgroup first, and then reports on a pipe of its own. Both the launch and
// the letting go run on the tool thread: the fork blocks that thread, not the daemon's replies.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { InternalError, errorMessage } from './errors';
import { toolThread } from './tool-thread-client';
import { withTimeout } from './with-timeout';

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

interface Waiting {
  report: Readable;
  start: Writable;
  /** Its first message, heard from the start: Node drains the pipes of a child that exited, and a listener come later would wait in vain. */
  reported: Promise<string | undefined>;
}

// The launched programs waiting to be let go, on the tool thread.
const waiting = new Map<number, Waiting>();

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
      const [report, start] = [child.stdio[REPORT_FD], child.stdio[START_FD]];
      if (child.pid === undefined || !report || !('read' in report) || !start || !('write' in start)) {
        reject(new InternalError(`${launch.file} started without its pipes`));
        return;
      }
      // One that died makes the write to it fail; its report pipe says so.
      start.on('error', () => undefined);
      waiting.set(child.pid, { report, start, reported: firstMessage(report) });
      resolve(child.pid);
    });
  });
}

/** A line of `text` that is a whole JSON value; conmon before 2.1.8 ends its messages with no newline. */
function jsonLine(text: string): string | undefined {
  return text.split('\n').find((line) => {
    try {
      JSON.parse(line);
      return true;
    } catch {
      return false;
    }
  });
}

/** The first JSON message on `pipe`, or what came before it closed (undefined for nothing). */
function firstMessage(pipe: Readable): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const message = jsonLine(text);
      if (message === undefined) return;
      pipe.off('data', onData);
      resolve(message);
    };
    pipe.on('data', onData);
    pipe.on('error', () => undefined);
    pipe.once('close', () => resolve(text === '' ? undefined : text));
  });
}

/** The program `pid` waiting on the tool thread, gone from those waiting. */
function takeWaiting(pid: number): Waiting {
  const found = waiting.get(pid);
  if (found === undefined) throw new InternalError(`no program ${pid} waits to be let go`);
  waiting.delete(pid);
  return found;
}

/** On the tool thread: lets the program go and answers the first message it reports. */
export async function releaseSpawned(release: GatedRelease): Promise<string | undefined> {
  const { report, start, reported } = takeWaiting(release.pid);
  start.end('0');
  try {
    return await withTimeout(reported, release.timeoutMs, release.overrun);
  } finally {
    // It may report again later (conmon does when the container exits): nothing listens then.
    report.destroy();
  }
}

/** On the tool thread: closes the pipes of a program killed before it was let go, hearing nothing more from it. */
export async function abandonSpawned(pid: number): Promise<void> {
  const { report, start } = takeWaiting(pid);
  start.destroy();
  report.destroy();
}

/**
 * Launches `launch.file`, which waits on fd 4 to be let go and reports on fd 3; resolves its
 * pid once it runs. Every launch must end in letGo, or in abandon once killed.
 */
export function launchGated(launch: GatedLaunch): Promise<number> {
  return toolThread.run('launch', launch);
}

/**
 * Lets the launched program `pid` go; resolves the first JSON message it reports (one a line),
 * or what it said before its report pipe closed (undefined for nothing). Rejects with DeadlineExceededError (`overrun`) after timeoutMs.
 */
export function letGo(pid: number, timeoutMs: number, overrun: string): Promise<string | undefined> {
  return toolThread.run('release', { pid, timeoutMs, overrun });
}

/** Closes the pipes of the launched program `pid`, killed before it was let go. */
export function abandon(pid: number): Promise<void> {
  return toolThread.run('abandon', pid);
}
