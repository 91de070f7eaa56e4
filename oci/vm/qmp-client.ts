import type { Socket } from 'node:net';
import { DeadlineExceededError, InternalError, UnavailableError } from '../../system/errors';
import { connectWhenListening } from '../../system/unix-connect';
import { withTimeout } from '../../system/with-timeout';

/** A command QEMU refused: its error class (GenericError, CommandNotFound...) and description. */
export class QmpError extends InternalError {
  constructor(
    readonly errorClass: string,
    readonly command: string,
    description: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${description}`);
  }
}

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
}

interface QmpMessage {
  QMP?: unknown;
  return?: unknown;
  error?: { class?: string; desc?: string };
  event?: string;
  data?: Record<string, unknown>;
  id?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}


/**
 * QEMU's machine protocol over its unix socket: JSON objects, one per line. Commands carry an id
 * their answer echoes; asynchronous events (SHUTDOWN, STOP, RESUME...) go to listeners. Every
 * command has a deadline, and a closed socket fails what is pending at once.
 */
export class QmpClient {
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: QmpEvent) => void>();
  private nextId = 1;
  private closedBecause: string | undefined;
  private greeted: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly path: string,
  ) {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 1);
        if (line !== '') this.onMessage(line);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.fail(`the QMP connection to ${path} closed`));
  }

  /** Connects (retrying until QEMU has made the socket), reads the greeting and enters command mode. */
  static async connect(path: string, timeoutMs: number): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    const socket = await connectWhenListening(path, timeoutMs, 'QMP');
    const client = new QmpClient(socket, path);
    try {
      const greeting = new Promise<void>((resolve) => (client.greeted = resolve));
      const left = Math.max(1, deadline - Date.now());
      await withTimeout(greeting, left, `QEMU sent no QMP greeting on ${path} within ${timeoutMs} ms`);
      await client.execute('qmp_capabilities', undefined, left);
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  private onMessage(line: string): void {
    let message: QmpMessage;
    try {
      message = JSON.parse(line) as QmpMessage;
    } catch {
      return;
    }
    if (message.QMP !== undefined) {
      this.greeted?.();
      return;
    }
    if (message.event !== undefined) {
      for (const listener of this.listeners) listener({ event: message.event, data: message.data ?? {} });
      return;
    }
    const pending = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!pending || message.id === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.error) pending.reject(new QmpError(message.error.class ?? 'GenericError', pending.command, message.error.desc ?? ''));
    else pending.resolve(message.return);
  }

  private fail(why: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = why;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new UnavailableError(`QMP ${pending.command}: ${why}`));
      this.pending.delete(id);
    }
  }

  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs a command; resolves to its `return` value. */
  execute(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    if (this.closedBecause !== undefined) return Promise.reject(new UnavailableError(`QMP ${command}: ${this.closedBecause}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DeadlineExceededError(`QEMU did not answer QMP ${command} on ${this.path} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args === undefined ? {} : { arguments: args }), id })}\n`);
    });
  }

  /** The VM's run state: running, paused, shutdown, inmigrate... */
  async status(timeoutMs: number): Promise<string> {
    const result = (await this.execute('query-status', undefined, timeoutMs)) as { status?: string };
    return result.status ?? 'unknown';
  }

  /** Ends QEMU at once; it answers before it exits, or the connection closes first. */
  async quit(timeoutMs: number): Promise<void> {
    await this.execute('quit', undefined, timeoutMs).catch((error: unknown) => {
      if (!(error instanceof UnavailableError)) throw error;
    });
  }

  close(): void {
    this.fail(`the QMP connection to ${this.path} was closed`);
    this.socket.destroy();
  }
}
