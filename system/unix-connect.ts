import { type Socket, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineExceededError, errorMessage } from './errors';

const RETRY_MS = 50;

/**
 * Connects to a unix socket that its server (a QEMU starting) may not have made yet, trying
 * again until `timeoutMs`; `what` names the server in the error.
 */
export async function connectWhenListening(path: string, timeoutMs: number, what: string): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const attempt = connect(path);
        attempt.once('connect', () => {
          attempt.off('error', reject);
          resolve(attempt);
        });
        attempt.once('error', reject);
      });
    } catch (error) {
      if (Date.now() >= deadline) throw new DeadlineExceededError(`cannot connect to ${what} at ${path} within ${timeoutMs} ms: ${errorMessage(error)}`);
      await sleep(RETRY_MS);
    }
  }
}
