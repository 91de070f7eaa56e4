// Exec and attach over WebSocket: channels 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize.
import type { Logger } from '../system/logger';
import { runRemoteCommand } from './remote-command';
import { statusIsJson } from './protocols';
import type { WsChannelMux } from './ws-channels';
import type { RemoteCommandRequest } from './stream-request';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

export async function serveWsRemoteCommand(mux: WsChannelMux, request: RemoteCommandRequest, protocol: string, logger: Logger): Promise<void> {
  const stdout = request.stdout ? mux.channel(STDOUT) : undefined;
  const stderr = request.stderr && !request.tty ? mux.channel(STDERR) : undefined;
  const error = mux.channel(ERROR);
  // An empty message on the first channel the client will read tells it the session is up.
  (stdout ?? stderr ?? error).write(Buffer.alloc(0));
  await runRemoteCommand(
    request,
    {
      stdin: request.stdin ? mux.channel(STDIN) : undefined,
      stdout,
      stderr,
      error,
      resize: request.tty ? mux.channel(RESIZE) : undefined,
      jsonStatus: statusIsJson(protocol),
      onDisconnect: (listener) => mux.onClose(listener),
      close: () => mux.close(),
    },
    logger,
  );
}
