// Port forwarding over WebSocket: one connection per port named up front, port i on channels
// 2i (data, both ways) and 2i+1 (errors, server to client). The first message on each
// channel is the port, two bytes little-endian, so the client can tell them apart.
import type { Logger } from '../system/logger';
import { forwardReportingFailure } from './forwarded-connection';
import type { WsChannelMux } from './ws-channels';
import type { PortForwardRequest } from './stream-request';

function portBytes(port: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16LE(port);
  return bytes;
}

export async function serveWsPortForward(mux: WsChannelMux, request: PortForwardRequest, ports: number[], logger: Logger): Promise<void> {
  await Promise.all(
    ports.map(async (port, index) => {
      const data = mux.channel(index * 2);
      const error = mux.channel(index * 2 + 1);
      data.write(portBytes(port));
      error.write(portBytes(port));
      const abort = new AbortController();
      data.once('close', () => abort.abort(new Error('the port-forward client disconnected')));
      await forwardReportingFailure(request, { port, stream: data, signal: abort.signal }, error, logger);
    }),
  );
  mux.close();
}
