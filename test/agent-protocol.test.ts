// The guest agent's protocol: the frame codec on its own, then the real agent program run on
// this host (it serves a unix socket with --listen instead of the virtio port, and runs its
// containers with the host's runc) driven by the daemon's client, as the daemon drives it in
// a VM.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, type Socket, connect as netConnect, createServer } from 'node:net';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FRAME_MAGIC, FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from '../agent/protocol/frame-codec';
import { ErrorCode, type Frame } from '../proto/gen/agent';
import { AgentClient, type AgentExit, type AgentListeners, type AgentOutput } from '../oci/vm/agent-client';
import { DeadlineExceededError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '../system/errors';
import { newId } from '../system/ids';
import { waitUntil } from '../system/wait-until';
import { makeBusyboxLayer } from './support/busybox-layer';
import { removeCgroupTree, testSpec } from './support/runc-containers';

const AGENT = join(__dirname, '..', 'agent', 'main.js');
const CALL_MS = 10_000;
const WAIT_MS = 10_000;

const NO_LISTENERS: AgentListeners = { onOutput: () => undefined, onExit: () => undefined, onPortData: () => undefined, onPortClosed: () => undefined };

const request = (id: bigint): Frame => ({ request: { id, health: {} } });

describe('frame codec', () => {
  test('frames come back whole however the stream is cut, many in one chunk or one byte at a time', () => {
    const frames = [1n, 2n, 3n].map(request);
    const bytes = Buffer.concat(frames.map(encodeFrame));
    expect(new FrameDecoder().push(bytes)).toEqual(frames);
    const decoder = new FrameDecoder();
    const got: Frame[] = [];
    for (const byte of bytes) got.push(...decoder.push(Buffer.from([byte])));
    expect(got).toEqual(frames);
  });

  test('garbage and a frame cut short (a reconnect mid-stream) are skipped up to the next magic', () => {
    const whole = encodeFrame(request(7n));
    const decoder = new FrameDecoder();
    const stream = Buffer.concat([Buffer.from('noise'), whole.subarray(0, whole.length - 2), whole]);
    expect(decoder.push(stream)).toEqual([request(7n)]);
    expect(decoder.skippedBytes).toBeGreaterThan(0);
  });

  test('a length over the limit is not waited for: the frames after it still come through', () => {
    const header = Buffer.alloc(12);
    FRAME_MAGIC.copy(header);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 4);
    expect(new FrameDecoder().push(Buffer.concat([header, encodeFrame(request(9n))]))).toEqual([request(9n)]);
  });
});

describe('the agent, run on the host', () => {
  let dir: string;
  let socket: string;
  let agent: ChildProcess;
  const clients: AgentClient[] = [];
  const outputs: AgentOutput[] = [];
  const exits: AgentExit[] = [];
  const listeners: AgentListeners = { ...NO_LISTENERS, onOutput: (output) => void outputs.push(output), onExit: (exit) => void exits.push(exit) };
  const cgroupParent = `podvisor-agent-test-${process.pid}`;

  const connect = async (using = listeners): Promise<AgentClient> => {
    const client = await AgentClient.connect(socket, WAIT_MS, using);
    clients.push(client);
    return client;
  };
  const textOf = (containerId: string, execId = ''): string =>
    outputs
      .filter((output) => output.containerId === containerId && output.execId === execId)
      .map((output) => output.data.toString())
      .join('');
  const makeContainer = async (client: AgentClient, args: string[], io = { stdin: false, terminal: false }): Promise<string> => {
    const id = newId();
    const rootfs = join(dir, id);
    await makeBusyboxLayer(rootfs);
    const spec = testSpec(rootfs, args, `/${cgroupParent}/${id}`, { terminal: io.terminal });
    await client.createContainer({ id, spec: JSON.stringify(spec), ...io }, CALL_MS);
    return id;
  };
  const exitOf = async (containerId: string, execId = ''): Promise<number> => {
    const found = (): AgentExit | undefined => exits.find((exit) => exit.containerId === containerId && exit.execId === execId);
    if (!(await waitUntil(async () => found() !== undefined, WAIT_MS, 50))) throw new Error(`${containerId} ${execId} never exited`);
    return (found() as AgentExit).exitCode;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-agent-'));
    socket = join(dir, 'agent.sock');
    agent = spawn(process.execPath, [AGENT, '--listen', socket, '--runc', '/usr/bin/runc', '--state', join(dir, 'state'), '--cgroup-root', '/sys/fs/cgroup/unified'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  });

  afterAll(async () => {
    // What a failed case left: runc's processes would outlive the agent.
    const cleaner = await connect().catch(() => undefined);
    await cleaner?.destroySandbox(CALL_MS).catch(() => undefined);
    for (const client of clients) client.close();
    agent.kill('SIGKILL');
    await removeCgroupTree(cgroupParent).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  test('health and guest details answer; a container runs, its output and exit code come as events', async () => {
    const client = await connect();
    await client.health(CALL_MS);
    const details = await client.guestDetails(CALL_MS);
    expect([details.kernelRelease, details.agentVersion]).toEqual([release(), '0.1.0']);

    const id = await makeContainer(client, ['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
    expect((await client.containerState(id, CALL_MS)).status).toBe('created');
    await client.startContainer(id, CALL_MS);
    expect(await exitOf(id)).toBe(3);
    expect(textOf(id)).toContain('hello\n');
    expect(outputs.some((output) => output.containerId === id && output.stream === 'stderr' && output.data.toString() === 'oops\n')).toBe(true);
    expect(await client.containerState(id, CALL_MS)).toMatchObject({ status: 'stopped', exitCode: 3 });
    await client.removeContainer(id, CALL_MS);
    await client.removeContainer(id, CALL_MS);
    expect((await client.containerState(id, CALL_MS)).status).toBe('unknown');
  });

  test('exec returns its own output and exit code; SIGTERM ends a container that traps it', async () => {
    const client = await connect();
    const id = await makeContainer(client, ['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.1; done']);
    await client.startContainer(id, CALL_MS);
    await client.execProcess({ containerId: id, execId: 'e1', args: ['sh', '-c', 'echo from-exec; exit 4'], stdin: false, terminal: false }, CALL_MS);
    expect(await exitOf(id, 'e1')).toBe(4);
    expect(textOf(id, 'e1')).toBe('from-exec\n');
    expect((await client.containerState(id, CALL_MS)).status).toBe('running');

    await client.signalProcess(id, '', 'SIGTERM', CALL_MS);
    expect(await exitOf(id)).toBe(7);
    await client.removeContainer(id, CALL_MS);
  });

  test('WaitProcess answers with the exit code: SIGTERM to an exec of sleep gives 143, SIGKILL to the container 137', async () => {
    const client = await connect();
    const id = await makeContainer(client, ['sleep', '100']);
    await client.startContainer(id, CALL_MS);
    await client.execProcess({ containerId: id, execId: 'sleeper', args: ['sleep', '100'], stdin: false, terminal: false }, CALL_MS);
    const execEnded = client.waitProcess(id, 'sleeper', 60_000);
    await client.signalProcess(id, 'sleeper', 'SIGTERM', CALL_MS);
    expect(await execEnded).toBe(143);

    const ended = client.waitProcess(id, '', 60_000);
    await client.signalProcess(id, '', 'SIGKILL', CALL_MS);
    expect(await ended).toBe(137);
    expect(await client.containerState(id, CALL_MS)).toMatchObject({ status: 'stopped', exitCode: 137 });
    await client.removeContainer(id, CALL_MS);
  });

  test("an exec's environment, working directory and user are its own; the rest is the container's", async () => {
    const client = await connect();
    const id = await makeContainer(client, ['sleep', '100']);
    await client.startContainer(id, CALL_MS);
    const args = ['sh', '-c', 'echo "$FOO $PATH $(pwd) $(id -u):$(id -g)"'];
    await client.execProcess({ containerId: id, execId: 'env', args, stdin: false, terminal: false, env: ['FOO=bar'], cwd: '/tmp', user: { uid: 1000, gid: 1001 } }, CALL_MS);
    expect(await exitOf(id, 'env')).toBe(0);
    expect(textOf(id, 'env')).toBe('bar /bin /tmp 1000:1001\n');
    await expect(client.execProcess({ containerId: id, execId: 'bad', args: ['true'], stdin: false, terminal: false, env: ['NOEQUALS'] }, CALL_MS)).rejects.toThrow(
      InvalidArgumentError,
    );
    await client.removeContainer(id, CALL_MS);
  });

  test('output larger than one read comes through whole and in order', async () => {
    const client = await connect();
    const id = await makeContainer(client, ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo "line $i ........................................................................................"; i=$((i+1)); done']);
    await client.startContainer(id, CALL_MS);
    expect(await exitOf(id)).toBe(0);
    const lines = textOf(id).split('\n');
    expect(lines).toHaveLength(3001);
    expect(lines.every((line, i) => i === 3000 || line.startsWith(`line ${i} `))).toBe(true);
    await client.removeContainer(id, CALL_MS);
  });

  // This host's cgroup v2 hierarchy (hybrid, at /sys/fs/cgroup/unified) has no controllers
  // enabled: only cpu.stat is there to read, so only CPU usage can be asserted here.
  test("stats come from the container's cgroup", async () => {
    const client = await connect();
    const id = await makeContainer(client, ['sh', '-c', 'while true; do :; done']);
    await client.startContainer(id, CALL_MS);
    expect(await waitUntil(async () => ((await client.containerStats(id, CALL_MS)).cpu?.usageNanos ?? 0n) > 0n, WAIT_MS, 100)).toBe(true);
    await client.removeContainer(id, CALL_MS);
  });

  test('a new client after the first closed finds the container still running, stops it and learns its exit', async () => {
    const first = await connect();
    const id = await makeContainer(first, ['sh', '-c', 'trap "exit 5" TERM; while true; do sleep 0.1; done']);
    await first.startContainer(id, CALL_MS);
    first.close();
    await expect(first.health(CALL_MS)).rejects.toThrow(UnavailableError);

    const second = await connect();
    const state = await second.containerState(id, CALL_MS);
    expect(state.status).toBe('running');
    expect(state.pid).toBeGreaterThan(0);
    const ended = second.waitProcess(id, '', 60_000);
    await second.signalProcess(id, '', 'SIGTERM', CALL_MS);
    expect(await ended).toBe(5);
    expect(await second.containerState(id, CALL_MS)).toMatchObject({ status: 'stopped', exitCode: 5 });
    await second.removeContainer(id, CALL_MS);
  });

  test('a container on a terminal: input reaches it, a resize is seen, closing its input ends it; execs with and without a terminal', async () => {
    const client = await connect();
    const id = await makeContainer(client, ['sh', '-c', 'while read line; do stty size; done; exit 6'], { stdin: true, terminal: true });
    await client.startContainer(id, CALL_MS);
    await client.execProcess({ containerId: id, execId: 'tty', args: ['sh', '-c', 'tty'], stdin: false, terminal: true }, CALL_MS);
    expect(await exitOf(id, 'tty')).toBe(0);
    expect(textOf(id, 'tty')).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    await client.execProcess({ containerId: id, execId: 'notty', args: ['sh', '-c', 'tty'], stdin: false, terminal: false }, CALL_MS);
    expect(await exitOf(id, 'notty')).toBe(1);
    expect(textOf(id, 'notty')).toBe('not a tty\n');

    await client.resizeTty(id, '', { columns: 100, rows: 30 }, CALL_MS);
    // runc passes the size on as it can; each line typed shows the size the shell sees now.
    const sized = await waitUntil(
      async () => {
        await client.writeStdin(id, '', Buffer.from('x\n'), CALL_MS);
        return textOf(id).includes('30 100');
      },
      WAIT_MS,
      100,
    );
    expect(sized).toBe(true);
    expect(outputs.every((output) => output.containerId !== id || output.stream === 'stdout')).toBe(true);
    await client.closeStdin(id, '', CALL_MS);
    expect(await exitOf(id)).toBe(6);
    await expect(client.resizeTty(id, '', { columns: 80, rows: 24 }, CALL_MS)).rejects.toThrow(FailedPreconditionError);
    await client.removeContainer(id, CALL_MS);
  });

  test('bad requests get typed errors and the agent carries on', async () => {
    const client = await connect();
    await expect(client.createContainer({ id: 'bad', spec: '{not json', stdin: false, terminal: false }, CALL_MS)).rejects.toThrow(InvalidArgumentError);
    await expect(client.createContainer({ id: '../escape', spec: '{}', stdin: false, terminal: false }, CALL_MS)).rejects.toThrow(InvalidArgumentError);
    await expect(client.startContainer('nonexistent', CALL_MS)).rejects.toThrow(NotFoundError);
    await expect(client.signalProcess('nonexistent', '', 'SIGNOPE', CALL_MS)).rejects.toThrow(NotFoundError);
    const id = await makeContainer(client, ['true']);
    await expect(client.signalProcess(id, '', 'SIGNOPE', CALL_MS)).rejects.toThrow(InvalidArgumentError);
    await expect(client.execProcess({ containerId: id, execId: 'x', args: ['true'], stdin: false, terminal: false }, CALL_MS)).rejects.toThrow(FailedPreconditionError);
    await client.removeContainer(id, CALL_MS);
    await client.health(CALL_MS);
  });

  test("port-forward: bytes both ways through a connection to localhost, the client's end half-closes it, a port nobody serves is named", async () => {
    // A server that answers what it was sent once the client has sent all of it.
    const server = createServer({ allowHalfOpen: true }, (peer) => {
      let got = '';
      peer.on('data', (chunk: Buffer) => (got += chunk.toString()));
      peer.on('end', () => peer.end(`got:${got}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const received: string[] = [];
    let closed: string | undefined;
    const client = await connect({
      ...NO_LISTENERS,
      onPortData: (id, data) => void (id === 'c1' && received.push(data.toString())),
      onPortClosed: (id, error) => void (id === 'c1' && (closed = error)),
    });
    try {
      await client.openPort('c1', port, CALL_MS);
      await client.writePort('c1', Buffer.from('hello '), CALL_MS);
      await client.writePort('c1', Buffer.from('guest'), CALL_MS);
      await client.closePortWrite('c1', CALL_MS);
      expect(await waitUntil(async () => closed !== undefined, WAIT_MS, 50)).toBe(true);
      expect([received.join(''), closed]).toEqual(['got:hello guest', '']);
      await expect(client.writePort('c1', Buffer.from('late'), CALL_MS)).rejects.toThrow(NotFoundError);
    } finally {
      server.close();
    }
    await expect(client.openPort('c2', port, CALL_MS)).rejects.toThrow(new RegExp(`cannot connect to port ${port} on the guest's localhost`));
    await expect(client.openPort('c3', 70000, CALL_MS)).rejects.toThrow(InvalidArgumentError);
  });

  test('garbage on the channel and a request naming no call get an error answer, and the agent serves on', async () => {
    const raw = await new Promise<Socket>((resolve, reject) => {
      const attempt = netConnect(socket, () => resolve(attempt));
      attempt.once('error', reject);
    });
    const decoder = new FrameDecoder();
    const answers: Frame[] = [];
    raw.on('data', (chunk: Buffer) => answers.push(...decoder.push(chunk)));
    raw.write(Buffer.concat([Buffer.from('not a frame at all'), FRAME_MAGIC, Buffer.from([0, 0, 0, 3, 1, 2, 3, 4, 9, 9, 9]), encodeFrame({ request: { id: 5n } })]));
    const answer = (): Frame | undefined => answers.find((frame) => frame.response?.id === 5n);
    expect(await waitUntil(async () => answer() !== undefined, WAIT_MS, 50)).toBe(true);
    expect(answer()?.response?.error?.code).toBe(ErrorCode.ERROR_CODE_INVALID_ARGUMENT);
    raw.destroy();
    await (await connect()).health(CALL_MS);
  });

  test('output written while no host is connected is sent again to the next one, once', async () => {
    const first = await connect();
    const id = await makeContainer(first, ['sh', '-c', 'sleep 1; echo while-away; sleep 30']);
    await first.startContainer(id, CALL_MS);
    first.close();
    // The agent holds what it could not hand over until a host acknowledges it.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const seen: AgentOutput[] = [];
    const second = await connect({ ...NO_LISTENERS, onOutput: (output) => void seen.push(output) });
    await second.resumeEvents(CALL_MS);
    expect(await waitUntil(async () => seen.some((output) => output.data.toString() === 'while-away\n'), WAIT_MS, 50)).toBe(true);
    await second.removeContainer(id, CALL_MS);
  });
});

describe('the agent client', () => {
  let server: Server;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-agent-client-'));
  });

  afterAll(async () => {
    server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('an agent that takes the call and never answers fails it past its deadline, naming the verb; a lost connection fails what is pending', async () => {
    const path = join(dir, 'silent.sock');
    const connections: import('node:net').Socket[] = [];
    server = createServer((connection) => void connections.push(connection));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const client = await AgentClient.connect(path, WAIT_MS, NO_LISTENERS);
    const late = client.health(200);
    await expect(late).rejects.toThrow(DeadlineExceededError);
    await expect(late).rejects.toThrow(/did not answer health within 200 ms/);

    const pending = client.containerState('c1', 60_000);
    connections.forEach((connection) => connection.destroy());
    await expect(pending).rejects.toThrow(UnavailableError);
    await expect(client.health(1000)).rejects.toThrow(UnavailableError);
    client.close();
  });

  test('connecting to a socket that never appears gives up at the deadline', async () => {
    await expect(AgentClient.connect(join(dir, 'missing.sock'), 300, NO_LISTENERS)).rejects.toThrow(DeadlineExceededError);
  });
});
