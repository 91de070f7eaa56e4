import { errorCode } from './error-code';
import { InternalError } from './errors';
import { signal } from './kill-helper';
import { readStat } from './process-stat';
import { waitUntil } from './wait-until';

/** A process the daemon started and must recognise again after a restart, despite pid reuse. */
export interface TrackedProcess {
  pid: number;
  /** /proc/<pid>/stat field 22: with the pid it names one process. */
  startTime: string;
}

const DEFAULT_STOP_TIMEOUT_MS = 10_000;
// After SIGKILL only the kernel's teardown is left; taking longer than this means something is wrong.
const KILL_WAIT_MS = 5_000;
const POLL_MS = 20;

/** The process now holding `pid`, or undefined when none does. */
export async function trackProcess(pid: number): Promise<TrackedProcess | undefined> {
  const stat = await readStat(pid);
  return stat === undefined ? undefined : { pid, startTime: stat.startTime };
}

/** Whether the process still runs; a zombie or another process that got its pid does not count. */
export async function isTrackedRunning(tracked: TrackedProcess): Promise<boolean> {
  const stat = await readStat(tracked.pid);
  return stat !== undefined && stat.startTime === tracked.startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/**
 * Whether any process holds the tracked pid, from a signal-0 probe that reads nothing: false
 * proves the process gone; true may yet be a zombie or another process that got the pid, which
 * only isTrackedRunning tells apart. Cheap enough for every status call.
 */
export function trackedPidInUse(tracked: TrackedProcess): boolean {
  try {
    process.kill(tracked.pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== 'ESRCH';
  }
}

/** Resolves to whether the process ended within `timeoutMs`. */
export function waitForTrackedExit(tracked: TrackedProcess, timeoutMs: number): Promise<boolean> {
  return waitUntil(async () => !(await isTrackedRunning(tracked)), timeoutMs, POLL_MS);
}

/**
 * Sends `stopSignal` (none: straight to SIGKILL after the wait), kills the process after
 * `timeoutMs`, and returns once it is gone. A process already gone, or a different process now
 * holding the pid, is left alone; `what` names it in the error of one that survives SIGKILL.
 */
export async function stopTrackedProcess(
  tracked: TrackedProcess,
  what: string,
  timeoutMs = DEFAULT_STOP_TIMEOUT_MS,
  stopSignal: NodeJS.Signals | undefined = 'SIGTERM',
): Promise<void> {
  if (!(await isTrackedRunning(tracked))) return;
  if (stopSignal !== undefined) signal(tracked.pid, stopSignal);
  if (await waitForTrackedExit(tracked, timeoutMs)) return;
  signal(tracked.pid, 'SIGKILL');
  if (!(await waitForTrackedExit(tracked, KILL_WAIT_MS))) throw new InternalError(`${what} (pid ${tracked.pid}) survived SIGKILL`);
}
