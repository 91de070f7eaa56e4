import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { DeadlineExceededError, InternalError, errorMessage } from '../../system/errors';
import { JSON_ERRORS_ARGS, runcGlobalArgs, runtimeErrors, type RuncTarget } from './runc';
import type { ExecResult } from '../runtime-handler';
import { startFailure } from './start-failure';


// Each stream keeps at most this much; a command that prints more is cut short, not buffered.
const MAX_STREAM_BYTES = 16 * 1024 * 1024;
// How long runc gets to reap a process we killed before we stop waiting for it.
const REAP_GRACE_MS = 10_000;

function capped(stream: NodeJS.ReadableStream): () => Buffer {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    const room = MAX_STREAM_BYTES - size;
    if (room <= 0) return;
    chunks.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
    size += Math.min(room, chunk.length);
  });
  return () => Buffer.concat(chunks);
}

/** Kills the process runc started in the container: killing runc alone would leave it running. */
async function killExecProcess(pidFile: string): Promise<void> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone: it exited just as the deadline passed.
    }
  }
}

/**
 * Runs `cmd` in the running container `id` with `runc exec` and collects its output. Past
 * `timeoutMs` the process is killed and the call rejects with DeadlineExceededError.
 */
export async function execInContainer(target: RuncTarget, id: string, cmd: string[], pidFile: string, timeoutMs: number): Promise<ExecResult> {
  const args = [...runcGlobalArgs(target), ...JSON_ERRORS_ARGS, 'exec', '--pid-file', pidFile, id, ...cmd];
  try {
    return await new Promise<ExecResult>((resolve, reject) => {
      const child = spawn(target.runtimePath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const stdout = capped(child.stdout);
      const stderr = capped(child.stderr);
      let timedOut = false;
      let reapTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        void killExecProcess(pidFile).finally(() => {
          reapTimer = setTimeout(() => child.kill('SIGKILL'), REAP_GRACE_MS);
        });
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new InternalError(`cannot run ${target.runtimePath}: ${errorMessage(error)}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(reapTimer);
        if (timedOut) {
          reject(new DeadlineExceededError(`exec in ${id} did not finish within ${timeoutMs} ms`));
          return;
        }
        const exitCode = code ?? 128;
        const out = stdout();
        const err = stderr();
        // The runtime fails with its own error line when the exec itself could not happen.
        const failures = exitCode !== 0 && out.length === 0 ? runtimeErrors(err.toString('utf8')) : [];
        // A program that is missing or cannot be run exits as a shell's would (127, 126), so
        // an exec probe naming one fails like any other failing command.
        const failed = startFailure(failures.join('; '));
        if (failed) {
          resolve({ stdout: out, stderr: Buffer.from(`${failures.join('; ')}\n`), exitCode: failed.notFound ? 127 : 126 });
          return;
        }
        if (failures.length > 0) {
          reject(new InternalError(`exec in ${id} failed: ${failures.join('; ')}${signal ? ` (${signal})` : ''}`));
          return;
        }
        resolve({ stdout: out, stderr: err, exitCode });
      });
    });
  } finally {
    await rm(pidFile, { force: true });
  }
}
