// The rewriter between a real Node HTTP/2 client, which sends whatever :authority it is given
// (as grpc-go does for unix sockets), and a real Node HTTP/2 server, which rejects a path there;
// on its own, and behind the hand-off that gives clients with a valid authority the bare socket.
import { connect, createServer as createH2Server, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { RewrittenConnection } from '../server/authority-rewriter';
import { handOffConnection } from '../server/connection-handoff';

interface Seen {
  authority: string | undefined;
  big: string | undefined;
}

const connectionErrors: Error[] = [];
const WRAPPERS: [string, (socket: Socket, h2: Http2Server) => void][] = [
  ['RewrittenConnection', (socket, h2) => h2.emit('connection', new RewrittenConnection(socket))],
  ['handOffConnection', (socket, h2) => handOffConnection(socket, (connection) => h2.emit('connection', connection), (error) => connectionErrors.push(error))],
];

describe.each(WRAPPERS)('%s', (_name, wrap) => {
  let listener: Server;
  let port: number;
  const seen: Seen[] = [];

  beforeAll(async () => {
    const h2 = createH2Server();
    h2.on('stream', (stream, headers: IncomingHttpHeaders) => {
      seen.push({ authority: headers[':authority'], big: headers['x-big'] as string | undefined });
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    listener = createServer((socket) => wrap(socket, h2));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));
  beforeEach(() => {
    seen.length = 0;
    connectionErrors.length = 0;
  });
  afterEach(() => expect(connectionErrors).toEqual([]));

  /** `waitForSettings`: send nothing before the server's SETTINGS arrive, as grpc-go does. */
  async function requests(authority: string, headers: Record<string, string>, count: number, waitForSettings = false): Promise<number[]> {
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      if (waitForSettings) await new Promise((resolve) => session.once('remoteSettings', resolve));
      return await Promise.all(
        Array.from(
          { length: count },
          () =>
            new Promise<number>((resolve, reject) => {
              const request = session.request({ ':path': '/x', ':authority': authority, ...headers });
              request.on('response', (response) => resolve(Number(response[':status'])));
              request.on('error', reject);
              request.resume();
              request.end();
            }),
        ),
      );
    } finally {
      session.close();
    }
  }

  test('a path authority becomes "localhost" on every request of the connection', async () => {
    expect(await requests('/run/podvisor/podvisor.sock', {}, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(seen).toEqual(Array(5).fill({ authority: 'localhost', big: undefined }));
  });

  test('a valid authority reaches the server untouched', async () => {
    expect(await requests('localhost:1234', {}, 2)).toEqual([200, 200]);
    expect(seen.map((s) => s.authority)).toEqual(['localhost:1234', 'localhost:1234']);
  });

  test('a client that waits for the server to speak first is served, with either authority', async () => {
    expect(await requests('/run/podvisor/podvisor.sock', {}, 2, true)).toEqual([200, 200]);
    expect(await requests('localhost', {}, 2, true)).toEqual([200, 200]);
    expect(seen.map((s) => s.authority)).toEqual(['localhost', 'localhost', 'localhost', 'localhost']);
  });

  test('header blocks larger than one frame are carried whole', async () => {
    const big = 'v'.repeat(40000);
    expect(await requests('/run/x.sock', { 'x-big': big }, 3)).toEqual([200, 200, 200]);
    expect(seen).toEqual(Array(3).fill({ authority: 'localhost', big }));
  });
});
