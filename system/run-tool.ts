import { InternalError } from './errors';
import { toolThread } from './tool-thread-client';

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

/**
 * Runs a program to completion without a shell, from the tool thread (see spawnTool for what
 * it resolves and rejects with), so that starting it holds up no reply.
 */
export function runTool(file: string, args: string[], options: ToolOptions): Promise<ToolOutcome> {
  return toolThread.run('run', { file, args, options });
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
