// HTTP/2 over a JavaScript stream (the RewrittenConnection) costs about a third of the CPU of a
// small CRI call; over the socket itself Node's HTTP/2 layer reads it natively. So a client that
// sends a valid :authority gets the server on its socket, and only one that sends a path goes
// through the rewriter. Telling them apart takes the first request's headers, and grpc-go sends
// none before the server's SETTINGS: so an empty SETTINGS goes out on the server's behalf first,
// and the client's ACK of it is kept from the server, which never sent it.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorCode } from '../system/error-code';
import { AuthorityRewriter, EMPTY_SETTINGS, RewrittenConnection } from './authority-rewriter';

// A client that opens a connection and sends no request for this long goes through the rewriter,
// so that whatever it sends meanwhile (a PING) is answered.
const FIRST_REQUEST_WAIT_MS = 2000;

/**
 * Hands `socket` to `serve` as soon as it is known whether its client needs the rewriter;
 * `onError` hears the socket's errors, and the rewriter's.
 */
export function handOffConnection(socket: Socket, serve: (connection: Duplex) => void, onError: (error: Error) => void): void {
  const rewriter = new AuthorityRewriter({ swallowSettingsAck: true });
  const received: Buffer[] = [];
  const stopWatching = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', stopWatching);
    socket.off('error', onEarlyError);
    socket.pause();
  };
  // A client that resets its connection (crictl does after each command, or before its first
  // request on its unused second connection) failed nothing.
  const onConnectionError = (error: Error): void => {
    if (errorCode(error) !== 'ECONNRESET') onError(error);
  };
  const handOff = (connection: Duplex): void => {
    connection.on('error', onConnectionError);
    serve(connection);
  };
  const serveRewritten = (): void => {
    stopWatching();
    handOff(new RewrittenConnection(socket, rewriter, received));
  };
  const onEarlyError = (error: Error): void => {
    stopWatching();
    onConnectionError(error);
  };
  const onData = (chunk: Buffer): void => {
    try {
      received.push(...rewriter.feed(chunk));
    } catch (error) {
      stopWatching();
      onError(error as Error);
      socket.destroy();
      return;
    }
    if (rewriter.rewriting) serveRewritten();
    else if (rewriter.passingThrough) {
      stopWatching();
      // The server reads what is unshifted before anything else on the socket.
      if (received.length > 0) socket.unshift(Buffer.concat(received));
      handOff(socket);
    }
  };
  const timer = setTimeout(serveRewritten, FIRST_REQUEST_WAIT_MS);
  socket.on('error', onEarlyError);
  socket.on('data', onData);
  socket.on('close', stopWatching);
  socket.write(EMPTY_SETTINGS);
}
