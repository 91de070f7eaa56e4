import { createInterface } from 'node:readline';
import { DeadlineExceededError, InternalError } from '../../system/errors';

/** conmon's answer on its sync pipe: the container's pid, or -1 and runc's complaint. */
export interface SyncMessage {
  pid: number;
  message?: string;
}

function parseLine(line: string): SyncMessage | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const fields = parsed as Record<string, unknown>;
    if (typeof fields.data !== 'number') return undefined;
    return { pid: fields.data, message: typeof fields.message === 'string' ? fields.message : undefined };
  } catch {
    return undefined;
  }
}

/**
 * Waits for conmon's first sync message. Rejects with DeadlineExceededError carrying `overrun`
 * after `timeoutMs`, and with InternalError (carrying `describeFailure()`) if conmon closes the
 * pipe unanswered.
 */
export function readSyncMessage(pipe: NodeJS.ReadableStream, timeoutMs: number, overrun: string, describeFailure: () => Promise<string>): Promise<SyncMessage> {
  return new Promise((resolve, reject) => {
    let text = '';
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      pipe.removeListener('data', onData);
      outcome();
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      for (const line of text.split('\n')) {
        const message = parseLine(line);
        if (message !== undefined) finish(() => resolve(message));
      }
    };
    const timer = setTimeout(() => finish(() => reject(new DeadlineExceededError(overrun))), timeoutMs);
    pipe.on('data', onData);
    pipe.on('error', () => undefined);
    pipe.once('end', () => {
      if (settled) return;
      void describeFailure().then((detail) => finish(() => reject(new InternalError(`conmon exited without creating the container: ${detail}`))));
    });
  });
}

/** Every message conmon writes on a sync pipe, in order; ends when conmon closes the pipe. */
export async function* syncMessages(pipe: NodeJS.ReadableStream): AsyncGenerator<SyncMessage> {
  for await (const line of createInterface({ input: pipe, crlfDelay: Infinity })) {
    const message = parseLine(line);
    if (message !== undefined) yield message;
  }
}
