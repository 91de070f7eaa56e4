// What SPDY and WebSocket port forwarding share: reading a port the client names, and running
// one forwarded connection with its failure reported on the connection's error channel.
import type { Writable } from 'node:stream';
import type { ForwardedConnection } from '../oci/stream-io';
import { errorMessage } from '../system/errors';
import { isPort } from '../system/tcp-port';
import type { Logger } from '../system/logger';
import type { PortForwardRequest } from './stream-request';

/** A TCP port from 1 to 65535 written in decimal, or undefined. */
export function parsePort(text: string | undefined): number | undefined {
  if (!text || !/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return isPort(port) ? port : undefined;
}

/** Forwards one connection; a failure is logged and written, as text, on `error`. */
export async function forwardReportingFailure(request: PortForwardRequest, connection: ForwardedConnection, error: Writable, logger: Logger, requestId?: string): Promise<void> {
  try {
    await request.forward(connection);
  } catch (failure) {
    logger.info('port forward failed', { podId: request.podId, port: connection.port, requestId, error: errorMessage(failure) });
    if (!error.writableEnded) error.write(`error forwarding port ${connection.port} to pod ${request.podId}: ${errorMessage(failure)}`);
  }
}
