// Port forwarding over SPDY: every forwarded connection is a pair of streams, data and error,
// sharing a `requestid` and naming the pod's `port`. Once both are in, the connection is
// forwarded; a failure is written on the error stream as text, then both streams end.
import type { Logger } from '../system/logger';
import { forwardReportingFailure, parsePort } from './forwarded-connection';
import { headerValue } from './spdy-frames';
import type { SpdySession, SpdyStream } from './spdy-session';
import type { PortForwardRequest } from './stream-request';

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** Serves pairs until the client hangs up. */
export function serveSpdyPortForward(session: SpdySession, request: PortForwardRequest, pairTimeoutMs: number, logger: Logger): Promise<void> {
  const pairs = new Map<string, Pair>();

  const forward = async (requestId: string, port: number, data: SpdyStream, error: SpdyStream): Promise<void> => {
    // The connection is over when its data stream closes: reset by the client or the session gone.
    const abort = new AbortController();
    const stop = (): void => abort.abort(new Error('the port-forward client closed the connection'));
    data.once('close', stop);
    session.once('close', stop);
    await forwardReportingFailure(request, { port, stream: data, signal: abort.signal }, error, logger, requestId);
    session.off('close', stop);
    if (!error.writableEnded) error.end();
    if (!data.writableEnded) data.end();
  };

  const onStream = (stream: SpdyStream): void => {
    const type = headerValue(stream.headers, 'streamtype');
    const port = parsePort(headerValue(stream.headers, 'port'));
    if ((type !== 'data' && type !== 'error') || port === undefined || (request.ports.length > 0 && !request.ports.includes(port))) {
      stream.destroy();
      return;
    }
    // Clients too old to send a request ID pair streams by consecutive IDs (error, then data).
    const requestId = headerValue(stream.headers, 'requestid') ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        pairs.delete(requestId);
        pair?.data?.destroy();
        if (pair?.error) pair.error.end(`timed out waiting for the other stream of request ${requestId}`);
      }, pairTimeoutMs);
      pair = { timer };
      pairs.set(requestId, pair);
    }
    if (pair[type]) {
      stream.end(`request ${requestId} already has a ${type} stream`);
      return;
    }
    pair[type] = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      void forward(requestId, port, pair.data, pair.error);
    }
  };

  session.on('stream', onStream);
  return new Promise((resolve) => {
    const onClose = (): void => {
      session.off('stream', onStream);
      for (const pair of pairs.values()) clearTimeout(pair.timer);
      pairs.clear();
      resolve();
    };
    if (session.isClosed) onClose();
    else session.once('close', onClose);
  });
}
