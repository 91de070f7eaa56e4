import { execFile } from 'node:child_process';
import { AgentError } from './agent-error';
import { ErrorCode } from '../proto/gen/agent';

// Guest tools (busybox, runc) answer within seconds even under TCG; anything longer is stuck.
const DEFAULT_TIMEOUT_MS = 30_000;

/** Runs a program (no shell) that must succeed; its stderr becomes the error's message. `input` is its stdin. */
export function runProgram(file: string, args: string[], timeoutMs = DEFAULT_TIMEOUT_MS, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) {
        resolve(stdout);
        return;
      }
      const why = stderr.trim() || error.message;
      reject(new AgentError(ErrorCode.ERROR_CODE_INTERNAL, `${file} ${args.join(' ')}: ${why}`));
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}
