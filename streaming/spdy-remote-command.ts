// Exec and attach over SPDY: the client opens one stream per channel, each named by its
// `streamtype` header; the command starts once every stream the request promised is there.
import type { Logger } from '../system/logger';
import { runRemoteCommand } from './remote-command';
import { statusIsJson, supportsResize } from './protocols';
import { headerValue } from './spdy-frames';
import type { SpdySession, SpdyStream } from './spdy-session';
import type { RemoteCommandRequest } from './stream-request';

const STREAM_TYPES = ['error', 'stdin', 'stdout', 'stderr', 'resize'] as const;
type StreamType = (typeof STREAM_TYPES)[number];

export function expectedStreamTypes(request: RemoteCommandRequest, protocol: string): StreamType[] {
  const types: StreamType[] = ['error'];
  if (request.stdin) types.push('stdin');
  if (request.stdout) types.push('stdout');
  if (request.stderr && !request.tty) types.push('stderr');
  if (request.tty && supportsResize(protocol)) types.push('resize');
  return types;
}

function waitForStreams(session: SpdySession, expected: StreamType[], timeoutMs: number): Promise<Map<StreamType, SpdyStream> | undefined> {
  return new Promise((resolve) => {
    const streams = new Map<StreamType, SpdyStream>();
    const done = (result: Map<StreamType, SpdyStream> | undefined): void => {
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
      resolve(result);
    };
    const onStream = (stream: SpdyStream): void => {
      const type = headerValue(stream.headers, 'streamtype') as StreamType | undefined;
      if (!type || !expected.includes(type) || streams.has(type)) {
        stream.destroy();
        return;
      }
      streams.set(type, stream);
      if (streams.size === expected.length) done(streams);
    };
    const onClose = (): void => done(undefined);
    const timer = setTimeout(() => done(undefined), timeoutMs);
    session.on('stream', onStream);
    session.on('close', onClose);
  });
}

export async function serveSpdyRemoteCommand(
  session: SpdySession,
  request: RemoteCommandRequest,
  protocol: string,
  streamTimeoutMs: number,
  logger: Logger,
): Promise<void> {
  const streams = await waitForStreams(session, expectedStreamTypes(request, protocol), streamTimeoutMs);
  const error = streams?.get('error');
  if (!streams || !error) {
    logger.info('streaming client did not open its streams in time', { kind: request.kind, containerId: request.containerId });
    session.destroy();
    return;
  }
  await runRemoteCommand(
    request,
    {
      stdin: streams.get('stdin'),
      stdout: streams.get('stdout'),
      stderr: streams.get('stderr'),
      error,
      resize: streams.get('resize'),
      jsonStatus: statusIsJson(protocol),
      onDisconnect: (listener) => {
        if (session.isClosed) listener();
        else session.once('close', listener);
      },
      close: () => {
        for (const stream of streams.values()) if (!stream.writableEnded) stream.end();
        session.close();
      },
    },
    logger,
  );
}
