// A streaming client (exec, attach) joined to one process in the guest: its output goes to the
// client's streams, the client's input and terminal sizes go to the agent.
import type { Readable } from 'node:stream';
import { errorMessage } from '../../system/errors';
import type { Logger } from '../../system/logger';
import type { StreamIO, TerminalSize } from '../stream-io';
import { AGENT_CALL_TIMEOUT_MS, type AgentClient } from './agent-client';
import { relayPaced } from './paced-relay';


/** Where the output of one process in the guest goes as the agent sends it. */
export type OutputSink = (stream: 'stdout' | 'stderr', data: Buffer) => void;

/** One process in the guest: '' is the container's main process. */
export interface GuestProcess {
  agent: AgentClient;
  containerId: string;
  execId: string;
}

/**
 * The client's streams as a sink. A terminal has one output, sent as stdout. Writes are not
 * awaited: events from the agent come one after another for the whole pod, and a slow client
 * must not hold up the other containers' logs.
 */
export function clientSink(io: StreamIO): OutputSink {
  return (stream, data) => {
    const target = stream === 'stderr' && !io.tty ? io.stderr : io.stdout;
    if (target && !target.destroyed && !target.writableEnded) target.write(data);
  };
}

/**
 * Sends what the client writes to the process's stdin, in order and paced by the agent, and at
 * its end closes that stdin when `closeAtEnd`. Returns the function that stops relaying.
 */
export function relayStdin(target: GuestProcess, stdin: Readable, closeAtEnd: boolean, logger: Logger): () => void {
  const { agent, containerId, execId } = target;
  return relayPaced(
    stdin,
    {
      write: (chunk) => agent.writeStdin(containerId, execId, chunk, AGENT_CALL_TIMEOUT_MS),
      end: closeAtEnd ? () => agent.closeStdin(containerId, execId, AGENT_CALL_TIMEOUT_MS) : undefined,
    },
    (error) => logger.warn('cannot pass input to a process in the guest', { container_id: containerId, exec_id: execId, error: errorMessage(error) }),
  );
}

/** Sends each terminal size the client reports to the process's terminal. Returns the function that stops. */
export function relayResizes(target: GuestProcess, resizes: AsyncIterable<TerminalSize>, logger: Logger): () => void {
  const { agent, containerId, execId } = target;
  let stopped = false;
  void (async () => {
    for await (const { width, height } of resizes) {
      if (stopped) return;
      await agent.resizeTty(containerId, execId, { columns: width, rows: height }, AGENT_CALL_TIMEOUT_MS).catch((error: unknown) => {
        logger.warn('cannot resize a terminal in the guest', { container_id: containerId, exec_id: execId, error: errorMessage(error) });
      });
    }
  })();
  return () => {
    stopped = true;
  };
}
