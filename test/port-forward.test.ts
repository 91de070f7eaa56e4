// Port forwarding into a real network namespace, to servers listening on its loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Duplex } from 'node:stream';
import { forwardPort } from '../oci/conmon/port-forward';
import type { ForwardedConnection } from '../oci/stream-io';
import { FailedPreconditionError } from '../system/errors';
import { command, freePort } from './support/net-tools';
import { waitFor } from './support/runc-containers';

const V4_PORT = 8080;
const V6_PORT = 8081;
const CLOSED_PORT = 8082;

// Echoes every connection back, upper-cased so a reply cannot be mistaken for our own bytes.
const SERVER_SCRIPT = `
const net = require('node:net');
const { Transform } = require('node:stream');
const upper = () => new Transform({ transform(chunk, _e, done) { done(null, Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1')); } });
let listening = 0;
const ready = () => { if (++listening === 2) console.log('ready'); };
for (const [port, host] of [[${V4_PORT}, '127.0.0.1'], [${V6_PORT}, '::1']]) {
  net.createServer((socket) => socket.pipe(upper()).pipe(socket)).listen(port, host, ready);
}
`;

/** The client's side of one forwarded connection: what it sends, and what comes back. */
function clientConnection(port: number): { connection: ForwardedConnection; send: (data: string | Buffer | null) => void; received: () => Buffer; client: AbortController } {
  const chunks: Buffer[] = [];
  const client = new AbortController();
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return {
    connection: { port, stream, signal: client.signal },
    send: (data) => stream.push(data),
    received: () => Buffer.concat(chunks),
    client,
  };
}

describe('port forwarding', () => {
  const name = `podvisor-pf-${randomBytes(4).toString('hex')}`;
  const podId = `pod-${name}`;
  const netns = `/run/netns/${name}`;
  let server: ChildProcess;

  beforeAll(async () => {
    await command('ip', ['netns', 'add', name]);
    await command('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    server = spawn('ip', ['netns', 'exec', name, process.execPath, '-e', SERVER_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(server.stdout!, 'data')) as [Buffer];
    expect(line.toString()).toBe('ready\n');
  });

  afterAll(async () => {
    const exited = once(server, 'exit');
    server.kill();
    await exited;
    await command('ip', ['netns', 'delete', name]);
  });

  it('carries two connections at once, each until its own end', async () => {
    const first = clientConnection(V4_PORT);
    const second = clientConnection(V4_PORT);
    const firstDone = forwardPort(podId, netns, first.connection);
    first.send('first ');
    expect(await waitFor(async () => first.received().toString() === 'FIRST ', 10_000)).toBe(true);

    // The first is still open while the second runs from start to end.
    const secondDone = forwardPort(podId, netns, second.connection);
    second.send('second');
    second.send(null);
    await secondDone;
    expect(second.received().toString()).toBe('SECOND');

    first.send('again');
    first.send(null);
    await firstDone;
    expect(first.received().toString()).toBe('FIRST AGAIN');
  });

  it('moves megabytes intact', async () => {
    const { connection, send, received } = clientConnection(V4_PORT);
    const data = Buffer.from(randomBytes(3 * 1024 * 1024).toString('hex'), 'latin1');
    const done = forwardPort(podId, netns, connection);
    send(data);
    send(null);
    await done;
    expect(received().equals(Buffer.from(data.toString('latin1').toUpperCase(), 'latin1'))).toBe(true);
  });

  it('falls back to ::1 when nothing listens on 127.0.0.1', async () => {
    const { connection, send, received } = clientConnection(V6_PORT);
    const done = forwardPort(podId, netns, connection);
    send('over v6');
    send(null);
    await done;
    expect(received().toString()).toBe('OVER V6');
  });

  it('rejects a port nothing listens on, naming the port and the pod', async () => {
    const { connection } = clientConnection(CLOSED_PORT);
    const refused = forwardPort(podId, netns, connection);
    await expect(refused).rejects.toBeInstanceOf(FailedPreconditionError);
    await expect(refused).rejects.toThrow(new RegExp(`port ${CLOSED_PORT} in pod ${podId}.*refused`));
  });

  // SPDY closes a data stream once both its halves ended: the client's end came first, the relay's
  // end follows at once when it gives up, and that close aborts the connection before the relay
  // has exited. The failure must still be reported.
  it('rejects a port nothing listens on when the client hangs up as the relay gives up', async () => {
    const { connection, send, client } = clientConnection(CLOSED_PORT);
    connection.stream.once('finish', () => client.abort());
    send(null);
    await expect(forwardPort(podId, netns, connection)).rejects.toThrow(new RegExp(`port ${CLOSED_PORT} in pod ${podId}.*refused`));
  });

  it('ends a connection the client abandons', async () => {
    const { connection, send, received, client } = clientConnection(V4_PORT);
    const done = forwardPort(podId, netns, connection);
    send('hello');
    expect(await waitFor(async () => received().toString() === 'HELLO', 10_000)).toBe(true);
    client.abort();
    await done;
  });

  it('forwards to the host\'s own localhost for a hostNetwork pod', async () => {
    const port = await freePort();
    const host: Server = createServer((socket) => socket.end('from the host'));
    host.listen(port, '127.0.0.1');
    await once(host, 'listening');
    try {
      const { connection, send, received } = clientConnection(port);
      const done = forwardPort(podId, undefined, connection);
      send(null);
      await done;
      expect(received().toString()).toBe('from the host');
    } finally {
      host.close();
    }
  });
});
