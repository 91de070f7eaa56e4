import { spawn } from 'node:child_process';
import { DeadlineExceededError, InternalError, errorMessage } from './errors';
import { describeDuration } from './duration';
import { killProcessGroup } from './kill-helper';

export interface ToolOptions {
  timeoutMs: number;
  /** Names the call in the error of one that overruns ("CNI plugin bridge ADD for pod X"); the program's path by default. */
  what?: string;
  /** Written to the program's stdin, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Working directory of the program, for tools that take paths relative to it. */
  cwd?: string;
}

export interface ToolOutcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

// Plugins and system tools answer in a few kilobytes; anything past this is noise we would
// only hold in memory.
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

function collect(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    if (size >= MAX_OUTPUT_BYTES) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

// After SIGKILL only the kernel's teardown is left; an overrun call is not held up longer than this for it.
const KILL_WAIT_MS = 5_000;

/**
 * Runs a program to completion without a shell. Resolves with its exit status whatever it is,
 * because callers such as the CNI runner read a failing program's stdout; rejects only when
 * the program cannot start or outlives `timeoutMs`. An overrun program is killed with its whole
 * process group (it runs in a session of its own), so helpers it started do not outlive it.
 */
export function runTool(file: string, args: string[], options: ToolOptions): Promise<ToolOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const overrun = (): void => settle(() => reject(new DeadlineExceededError(`${options.what ?? file} did not answer within ${describeDuration(options.timeoutMs)}`)));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) killProcessGroup(child.pid);
      // Its output pipes may stay open in a process that left the group; its own exit is what counts.
      child.once('exit', overrun);
      setTimeout(overrun, KILL_WAIT_MS).unref();
    }, options.timeoutMs);
    child.on('error', (error) => settle(() => reject(new InternalError(`cannot run ${file}: ${errorMessage(error)}`))));
    child.on('close', (exitCode) => settle(() => resolve({ exitCode, stdout: stdout(), stderr: stderr() })));
    // A program that exits without reading its input makes the write fail with EPIPE; its
    // exit status is what matters then.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** A program that ran and failed; `stderr` is kept so callers can tell known failures apart. */
export class CommandFailedError extends InternalError {
  constructor(
    readonly command: string,
    readonly stderr: string,
    exitCode: number | null,
  ) {
    super(`${command}: ${stderr || `exit status ${exitCode ?? 'none (killed)'}`}`);
  }
}

/** Runs a program that must succeed and returns its stdout; a failure is a CommandFailedError. */
export async function runToolChecked(file: string, args: string[], options: ToolOptions): Promise<string> {
  const outcome = await runTool(file, args, options);
  if (outcome.exitCode !== 0) throw new CommandFailedError([file, ...args].join(' '), outcome.stderr.trim(), outcome.exitCode);
  return outcome.stdout;
}
