// Runs a program to completion and collects its output: the work of the tool thread (see
// tool-thread.ts), where forking blocks that thread rather than the daemon's replies.
import { spawn } from 'node:child_process';
import { DeadlineExceededError, InternalError, errorMessage } from './errors';
import { describeDuration } from './duration';
import { killProcessGroup } from './kill-helper';
import type { ToolOptions, ToolOutcome } from './run-tool';

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
export function spawnTool(file: string, args: string[], options: ToolOptions): Promise<ToolOutcome> {
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

