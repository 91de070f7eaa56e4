import { createInterface } from 'node:readline';

/** conmon's answer on its sync pipe: the container's pid, or -1 and runc's complaint. */
export interface SyncMessage {
  pid: number;
  message?: string;
}

/** A line conmon wrote on a sync pipe, as its message; undefined when it is none. */
export function parseSyncLine(line: string): SyncMessage | undefined {
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

/** Every message conmon writes on a sync pipe, in order; ends when conmon closes the pipe. */
export async function* syncMessages(pipe: NodeJS.ReadableStream): AsyncGenerator<SyncMessage> {
  for await (const line of createInterface({ input: pipe, crlfDelay: Infinity })) {
    const message = parseSyncLine(line);
    if (message !== undefined) yield message;
  }
}
