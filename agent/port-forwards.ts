import { connect, type Socket } from 'node:net';
import { ErrorCode, type Event } from '../proto/gen/agent';
import { AgentError, failedPrecondition, invalid, messageOf, notFound } from './agent-error';

const CONNECT_TIMEOUT_MS = 10_000;

/** Connects to the port on localhost, IPv4 first, then IPv6, as the kubelet's port-forward does. */
async function dial(port: number): Promise<Socket> {
  const failures: string[] = [];
  for (const host of ['127.0.0.1', '::1']) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
        socket.once('connect', () => {
          socket.setTimeout(0);
          resolve(socket);
        });
        socket.once('timeout', () => socket.destroy(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)));
        socket.once('error', reject);
      });
    } catch (error) {
      failures.push(`${host}: ${messageOf(error)}`);
    }
  }
  throw failedPrecondition(`cannot connect to port ${port} on the guest's localhost (${failures.join('; ')})`);
}

/** The host's port-forward connections to ports on the guest's localhost. */
export class PortForwards {
  private readonly sockets = new Map<string, Socket>();

  constructor(
    private readonly emit: (event: Omit<Event, 'seq'>) => void,
    /** Resolves once the host has taken enough of what was sent: the socket waits till then. */
    private readonly drained: () => Promise<void>,
  ) {}

  async open(connectionId: string, port: number): Promise<void> {
    if (this.sockets.has(connectionId)) throw new AgentError(ErrorCode.ERROR_CODE_ALREADY_EXISTS, `connection ${connectionId} is open already`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`port ${port} is not from 1 to 65535`);
    const socket = await dial(port);
    this.sockets.set(connectionId, socket);
    let failure = '';
    socket.on('data', (data: Buffer) => {
      this.emit({ portData: { connectionId, data } });
      socket.pause();
      void this.drained().then(() => socket.resume());
    });
    socket.on('error', (error) => (failure = error.message));
    socket.on('close', () => {
      this.sockets.delete(connectionId);
      this.emit({ portClosed: { connectionId, error: failure } });
    });
  }

  private get(connectionId: string): Socket {
    const socket = this.sockets.get(connectionId);
    if (!socket) throw notFound(`connection ${connectionId} is not open`);
    return socket;
  }

  write(connectionId: string, data: Uint8Array): Promise<void> {
    const socket = this.get(connectionId);
    return new Promise((resolve, reject) => socket.write(data, (error) => (error ? reject(failedPrecondition(`connection ${connectionId}: ${error.message}`)) : resolve())));
  }

  closeWrite(connectionId: string): void {
    this.get(connectionId).end();
  }

  close(connectionId: string): void {
    this.sockets.get(connectionId)?.destroy();
  }

  closeAll(): void {
    for (const socket of this.sockets.values()) socket.destroy();
  }
}
