import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { InternalError, errorMessage } from './errors';

const execFileAsync = promisify(execFile);

/** A helper command that could not be started, failed or ran out of time; `stderr` says why. */
export class CommandFailedError extends InternalError {
  constructor(
    readonly command: string,
    readonly stderr: string,
    cause: string,
  ) {
    super(`${command}: ${stderr === '' ? cause : stderr}`);
  }
}

/**
 * Runs a system tool with an argument array (never a shell) and returns its standard output.
 * The timeout is mandatory: a tool stuck on a hung mount or bus must not stall a CRI call forever.
 */
export async function runCommand(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' });
    return stdout;
  } catch (error) {
    // Checked by shape, not instanceof: see error-code.ts.
    const stderr = typeof error === 'object' && error !== null && 'stderr' in error && typeof error.stderr === 'string' ? error.stderr.trim() : '';
    throw new CommandFailedError([command, ...args].join(' '), stderr, errorMessage(error));
  }
}
