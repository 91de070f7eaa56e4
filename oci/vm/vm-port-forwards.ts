import { randomBytes } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError, errorMessage } from '../../system/errors';
import type { Logger } from '../../system/logger';
import { isPort } from '../../system/tcp-port';
import { whenAborted } from '../../system/when-aborted';
import type { ForwardedConnection } from '../stream-io';
import { AGENT_CALL_TIMEOUT_MS, type AgentClient, type AgentListeners } from './agent-client';
import { relayPaced } from './paced-relay';


interface OpenConnection {
  connection: ForwardedConnection;
  closed: (error: string) => void;
}

/**
 * Port-forward into VM pods: the agent connects to the port on the guest's localhost, which is
 * the pod's network, and the bytes travel as agent calls one way and events the other.
 */
export class VmPortForwards {
  private readonly open = new Map<string, OpenConnection>();

  constructor(private readonly logger: Logger) {}

  readonly listeners: Pick<AgentListeners, 'onPortData' | 'onPortClosed'> = {
    onPortData: (connectionId, data) => {
      const stream = this.open.get(connectionId)?.connection.stream;
      if (stream && !stream.destroyed && !stream.writableEnded) stream.write(data);
    },
    onPortClosed: (connectionId, error) => this.open.get(connectionId)?.closed(error),
  };

  /** Resolves when the guest's side closes (the stream is then ended) or the client aborts. */
  async forward(podId: string, agent: AgentClient, connection: ForwardedConnection): Promise<void> {
    const { port, stream, signal } = connection;
    if (!isPort(port)) throw new InvalidArgumentError(`cannot forward port ${port}: not a TCP port`);
    const connectionId = randomBytes(8).toString('hex');
    let closed: (error: string) => void = () => undefined;
    const guestClosed = new Promise<string>((resolve) => (closed = resolve));
    this.open.set(connectionId, { connection, closed });
    try {
      await agent.openPort(connectionId, port, AGENT_CALL_TIMEOUT_MS).catch((error: unknown) => {
        if (error instanceof FailedPreconditionError) throw new FailedPreconditionError(`cannot forward port ${port} in pod ${podId}: ${error.message}`);
        throw error;
      });
      const stopInput = relayPaced(
        stream,
        // The client's end half-closes the connection: the guest's side may still answer.
        { write: (chunk) => agent.writePort(connectionId, chunk, AGENT_CALL_TIMEOUT_MS), end: () => agent.closePortWrite(connectionId, AGENT_CALL_TIMEOUT_MS) },
        (error) => this.logger.warn('cannot pass port-forward data to the guest', { pod_id: podId, port, error: errorMessage(error) }),
      );
      const aborted = whenAborted(signal).then(() => undefined);
      const error = await Promise.race([guestClosed, aborted]);
      stopInput();
      if (error === undefined) {
        await agent.closePort(connectionId, AGENT_CALL_TIMEOUT_MS).catch(() => undefined);
        return;
      }
      if (error !== '') this.logger.warn('a port-forward connection in the guest failed', { pod_id: podId, port, error });
      stream.end();
    } finally {
      this.open.delete(connectionId);
    }
  }
}
