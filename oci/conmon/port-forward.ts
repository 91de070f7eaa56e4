import { InvalidArgumentError } from '../../system/errors';
import { isPort } from '../../system/tcp-port';
import type { ForwardedConnection } from '../stream-io';
import { runRelay } from './stream-relay';

/**
 * Carries one connection to `connection.port` on localhost (127.0.0.1, else ::1) in the pod's
 * network namespace, or the host's for a hostNetwork pod. The stream relay enters the namespace
 * (Node cannot: setns acts on one thread of many) and moves bytes both ways with back-pressure.
 * Resolves when the pod side closes (the stream is then ended) or the client aborts; a port
 * nothing listens on rejects with FailedPreconditionError naming the port and the pod.
 */
export function forwardPort(podId: string, netns: string | undefined, connection: ForwardedConnection): Promise<void> {
  const { port } = connection;
  if (!isPort(port)) return Promise.reject(new InvalidArgumentError(`cannot forward port ${port}: not a TCP port`));
  return runRelay(['tcp', String(port), ...(netns === undefined ? [] : [netns])], {
    input: connection.stream,
    output: connection.stream,
    stop: connection.signal,
    target: `port ${port} in pod ${podId}`,
  });
}
