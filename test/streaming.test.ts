import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import type { ForwardedConnection, StreamIO, TerminalSize } from '../oci/stream-io';
import { StreamServer } from '../streaming/stream-server';
import type { RemoteCommandRequest } from '../streaming/stream-request';
import { createLogger } from '../system/logger';
import { request } from '../testbed/http';
import { openExecStreams, readAll, upgradeOrFail, upgradeSpdy } from './support/spdy-client';
import { channelText, connectWs } from './support/ws-client';

const logger = createLogger('error', 'text');
const V4 = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

function write(stream: Writable | undefined, data: string): void {
  if (!stream) throw new Error('the request promised this stream');
  stream.write(data);
}

/** The stub standing in for the runtime: echoes stdin to stdout (and, upper-cased, to stderr). */
function echo(exitCode: number): (io: StreamIO) => Promise<number> {
  return async (io) => {
    const input = io.stdin ? await readAll(io.stdin) : '';
    write(io.stdout, input);
    if (io.stderr) write(io.stderr, input.toUpperCase());
    return exitCode;
  };
}

function exec(run: RemoteCommandRequest['run'], flags: Partial<RemoteCommandRequest> = {}): RemoteCommandRequest {
  return { kind: 'exec', containerId: 'c1', stdin: true, stdout: true, stderr: true, tty: false, run, ...flags };
}

describe('streaming server', () => {
  let server: StreamServer;
  let clock = 0;

  beforeEach(async () => {
    clock = 1_000_000;
    server = new StreamServer({ address: '127.0.0.1:0', now: () => clock }, logger);
    await server.start();
  });
  afterEach(() => server.stop());

  async function spdyExec(request: RemoteCommandRequest, input: string, protocols = V4) {
    const { session, protocol } = await upgradeOrFail(server.issue(request), protocols);
    const streams = await openExecStreams(session, request);
    streams.stdin?.end(input);
    const [stdout, stderr, error] = await Promise.all([
      streams.stdout ? readAll(streams.stdout) : '',
      streams.stderr ? readAll(streams.stderr) : '',
      readAll(streams.error),
    ]);
    if (!session.isClosed) await once(session, 'close');
    return { protocol, stdout, stderr, error };
  }

  test('exec over SPDY: stdin reaches the command up to its EOF, output comes back, exit 0 is Success', async () => {
    const result = await spdyExec(exec(echo(0)), 'hello\n');
    expect(result).toEqual({ protocol: 'v4.channel.k8s.io', stdout: 'hello\n', stderr: 'HELLO\n', error: expect.any(String) });
    expect(JSON.parse(result.error)).toEqual({ metadata: {}, status: 'Success' });
  });

  test('a non-zero exit is a Failure status carrying the exit code', async () => {
    const result = await spdyExec(exec(echo(3)), 'x');
    expect(JSON.parse(result.error)).toEqual({
      metadata: {},
      status: 'Failure',
      reason: 'NonZeroExitCode',
      message: 'command terminated with non-zero exit code: exit status 3',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
  });

  test('v5 is accepted and reports like v4; pre-v4 protocols report failures as plain text', async () => {
    expect((await spdyExec(exec(echo(0)), '', ['v5.channel.k8s.io', ...V4])).protocol).toBe('v5.channel.k8s.io');
    const v3 = await spdyExec(exec(echo(2)), '', ['v3.channel.k8s.io']);
    expect(v3.protocol).toBe('v3.channel.k8s.io');
    expect(v3.error).toBe('command terminated with non-zero exit code: exit status 2');
    expect((await spdyExec(exec(echo(0)), '', ['v2.channel.k8s.io'])).error).toBe('');
  });

  test('a failing run is an InternalError status with its message', async () => {
    const result = await spdyExec(
      exec(() => Promise.reject(new Error('no such process'))),
      '',
    );
    expect(JSON.parse(result.error)).toMatchObject({ status: 'Failure', reason: 'InternalError', message: 'Internal error occurred: no such process' });
  });

  test('with a tty there is no stderr, and resize messages arrive as terminal sizes', async () => {
    const sizes: TerminalSize[] = [];
    const request = exec(
      async (io) => {
        expect(io.stderr).toBeUndefined();
        expect(io.tty).toBe(true);
        for await (const size of io.resizes ?? []) {
          sizes.push(size);
          if (sizes.length === 3) break;
        }
        write(io.stdout, `${sizes.length} sizes`);
        return 0;
      },
      { tty: true, stdin: false },
    );
    const { session } = await upgradeOrFail(server.issue(request), V4);
    const streams = await openExecStreams(session, request);
    expect(streams.stderr).toBeUndefined();
    // client-go's encoder ends each object with a newline; concatenated objects are read too.
    streams.resize?.write('{"Width":80,"Height":24}\n');
    streams.resize?.write('{"Width":100,"Height":30}{"Width":120,');
    streams.resize?.write('"Height":40}\n');
    const [stdout, error] = await Promise.all([readAll(streams.stdout as Readable), readAll(streams.error)]);
    expect(stdout).toBe('3 sizes');
    expect(sizes).toEqual([{ width: 80, height: 24 }, { width: 100, height: 30 }, { width: 120, height: 40 }]);
    expect(JSON.parse(error).status).toBe('Success');
  });

  test('a client that goes away aborts the running command', async () => {
    let aborted!: () => void;
    const abortSeen = new Promise<void>((resolve) => (aborted = resolve));
    const request = exec(async (io) => {
      await once(io.signal, 'abort');
      aborted();
      return 137;
    });
    const { session, socket } = await upgradeOrFail(server.issue(request), V4);
    await openExecStreams(session, request);
    socket.destroy();
    await abortSeen;
  });

  test('50 MB to a slow reader: the command feels back-pressure and the buffers stay bounded', async () => {
    const total = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let pushedBack = 0;
    let highWater = 0;
    let backPressured!: () => void;
    const firstBackPressure = new Promise<void>((resolve) => (backPressured = resolve));
    const request = exec(
      async (io) => {
        const stdout = io.stdout as Writable;
        for (let sent = 0; sent < total; sent += chunk.length) {
          const more = stdout.write(chunk);
          highWater = Math.max(highWater, stdout.writableLength);
          if (!more) {
            pushedBack++;
            backPressured();
            await once(stdout, 'drain');
          }
        }
        return 0;
      },
      { stdin: false, stderr: false },
    );
    const { session } = await upgradeOrFail(server.issue(request), V4);
    const streams = await openExecStreams(session, request);
    const stdout = streams.stdout as Readable;
    stdout.pause();
    // The client reads nothing until the command has been told to wait.
    await firstBackPressure;
    let received = 0;
    const ended = once(stdout, 'end');
    stdout.on('data', (data: Buffer) => (received += data.length));
    stdout.resume();
    const error = await readAll(streams.error);
    await ended;
    expect(received).toBe(total);
    expect(JSON.parse(error).status).toBe('Success');
    expect(pushedBack).toBeGreaterThan(0);
    // Never more than a few chunks queued in the server, whatever the output's size.
    expect(highWater).toBeLessThanOrEqual(4 * chunk.length);
  });

  test('a client offering no protocol the server speaks gets 403 and the accepted list', async () => {
    const refused = await upgradeSpdy(server.issue(exec(echo(0))), ['v9.channel.k8s.io']);
    expect(refused.upgraded).toBe(false);
    if (refused.upgraded) return;
    expect(refused.status).toBe(403);
    expect(String(refused.headers['x-accepted-stream-protocol-versions'])).toContain('v4.channel.k8s.io');
    const forward = await upgradeSpdy(server.issue({ kind: 'portforward', podId: 'p', ports: [], forward: async () => undefined }), V4);
    expect(forward.upgraded).toBe(false);
    if (!forward.upgraded) expect(forward.headers['x-accepted-stream-protocol-versions']).toBe('portforward.k8s.io');
  });

  test('unknown, reused and expired tokens are 404', async () => {
    expect((await request(`${server.url}/exec/nosuchtoken`)).status).toBe(404);
    const unknown = await upgradeSpdy(`${server.url}/exec/nosuchtoken`, V4);
    expect(unknown.upgraded ? 101 : unknown.status).toBe(404);

    const url = server.issue(exec(echo(0)));
    const first = await upgradeOrFail(url, V4);
    const reused = await upgradeSpdy(url, V4);
    expect(reused.upgraded ? 101 : reused.status).toBe(404);
    first.session.destroy();

    const late = server.issue(exec(echo(0)));
    clock += 61_000;
    const expired = await upgradeSpdy(late, V4);
    expect(expired.upgraded ? 101 : expired.status).toBe(404);

    // A token for an exec does not open an attach.
    const execUrl = server.issue(exec(echo(0)));
    expect((await upgradeSpdy(execUrl.replace('/exec/', '/attach/'), V4)).upgraded).toBe(false);
  });

  test('attach resolves to Success with no exit code', async () => {
    const result = await spdyExec({ ...exec(echo(0)), kind: 'attach', run: async (io) => (await echo(0)(io), undefined) }, 'attached');
    expect(result.stdout).toBe('attached');
    expect(JSON.parse(result.error).status).toBe('Success');
  });

  describe('port forwarding over SPDY', () => {
    // Each forwarded connection answers with its port and what it was sent.
    async function answer(connection: ForwardedConnection): Promise<void> {
      if (connection.port === 7777) throw new Error('connection refused');
      const input = await readAll(connection.stream);
      connection.stream.end(`${connection.port} got ${input}`);
    }

    test('two ports and two connections on one port at once; a failure shows on its error stream', async () => {
      const seen: number[] = [];
      const { session, protocol } = await upgradeOrFail(
        server.issue({ kind: 'portforward', podId: 'pod1', ports: [], forward: (connection) => (seen.push(connection.port), answer(connection)) }),
        ['portforward.k8s.io'],
      );
      expect(protocol).toBe('portforward.k8s.io');
      const connect = async (port: number, requestId: number, message: string) => {
        const headers = { port: [String(port)], requestid: [String(requestId)] };
        const error = await session.openStream({ ...headers, streamtype: ['error'] });
        error.end();
        const data = await session.openStream({ ...headers, streamtype: ['data'] });
        data.end(message);
        const [reply, failure] = await Promise.all([readAll(data), readAll(error)]);
        return { reply, failure };
      };
      const results = await Promise.all([connect(8080, 0, 'a'), connect(9090, 1, 'b'), connect(8080, 2, 'c'), connect(7777, 3, 'd')]);
      expect(results.slice(0, 3)).toEqual([
        { reply: '8080 got a', failure: '' },
        { reply: '9090 got b', failure: '' },
        { reply: '8080 got c', failure: '' },
      ]);
      expect(results[3]).toEqual({ reply: '', failure: 'error forwarding port 7777 to pod pod1: connection refused' });
      expect(seen.sort()).toEqual([7777, 8080, 8080, 9090]);
      session.destroy();
    });
  });

  describe('WebSocket', () => {
    test('exec over v5.channel.k8s.io: binary channels, and CLOSE ends stdin', async () => {
      const ws = await connectWs(server.issue(exec(echo(4))), ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
      expect(ws.protocol).toBe('v5.channel.k8s.io');
      ws.send(0, 'over ws');
      ws.ws.send(Buffer.from([255, 0]));
      const messages = await ws.messages;
      expect(channelText(messages, 1)).toBe('over ws');
      expect(channelText(messages, 2)).toBe('OVER WS');
      expect(JSON.parse(channelText(messages, 3))).toMatchObject({ status: 'Failure', details: { causes: [{ reason: 'ExitCode', message: '4' }] } });
    });

    test('base64 exec without stdin', async () => {
      const request = exec(
        async (io) => {
          write(io.stdout, 'base64 out');
          return 0;
        },
        { stdin: false },
      );
      const ws = await connectWs(server.issue(request), ['v4.base64.channel.k8s.io']);
      const messages = await ws.messages;
      expect(channelText(messages, 1)).toBe('base64 out');
      expect(JSON.parse(channelText(messages, 3))).toEqual({ metadata: {}, status: 'Success' });
    });

    test('port forwarding: each port announces itself on its data and error channels', async () => {
      const ws = await connectWs(
        server.issue({
          kind: 'portforward',
          podId: 'pod1',
          ports: [],
          forward: async (connection) => {
            connection.stream.end(`from ${connection.port}`);
          },
        }) + '?port=8080&port=9090',
        ['v4.channel.k8s.io'],
      );
      const messages = await ws.messages;
      const port = (channel: number) => messages.find((message) => message.channel === channel)?.data.readUInt16LE(0);
      expect([port(0), port(1), port(2), port(3)]).toEqual([8080, 8080, 9090, 9090]);
      expect(channelText(messages, 0).slice(2)).toBe('from 8080');
      expect(channelText(messages, 2).slice(2)).toBe('from 9090');
    });
  });
});

describe('streaming server with TLS', () => {
  const run = promisify(execFile);
  let dir: string;
  let server: StreamServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-streaming-tls-'));
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    server = new StreamServer({ address: '127.0.0.1:0', tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') }, logger);
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('URLs are https and exec works over them', async () => {
    const request = exec(echo(0), { stderr: false });
    const url = server.issue(request);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/exec\//);
    const { session } = await upgradeOrFail(url, V4);
    const streams = await openExecStreams(session, request);
    streams.stdin?.end('secure');
    expect(await readAll(streams.stdout as Readable)).toBe('secure');
    expect(JSON.parse(await readAll(streams.error)).status).toBe('Success');
  });

  test('a certificate without a key is refused', () => {
    expect(() => new StreamServer({ address: '127.0.0.1:0', tlsCertFile: join(dir, 'cert.pem') }, logger)).toThrow('both a certificate and a key');
  });
});
