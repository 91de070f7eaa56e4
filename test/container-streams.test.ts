// Exec and attach streams through the conmon handler: real conmon, runc and busybox containers.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { OCI_HANDLER_DEFAULTS } from '../config/config';
import { ConmonHandler } from '../oci/conmon/conmon-handler';
import type { StreamIO, TerminalSize } from '../oci/stream-io';
import { newId } from '../system/ids';
import { mountRootfs, removeRootfs, type ContainerRootfs } from '../storage/rootfs';
import { FailedPreconditionError, InternalError } from '../system/errors';
import { createLogger } from '../system/logger';
import { makeBusyboxLayer } from './support/busybox-layer';
import { CGROUP_ROOT, removeCgroupTree, testSpec, waitFor } from './support/runc-containers';

const OUTPUT_WAIT_MS = 10_000;

/** A stream that keeps what is written to it. */
class Collector extends Writable {
  private chunks: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk);
    callback();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  until(pattern: RegExp): Promise<boolean> {
    return waitFor(async () => pattern.test(this.text()), OUTPUT_WAIT_MS);
  }
}

/** Terminal sizes a test reports one by one, kept until read, as a client's resize stream would. */
class SizeQueue {
  private readonly queued: TerminalSize[] = [];
  private wake = (): void => undefined;
  private closed = false;

  async *sizes(): AsyncGenerator<TerminalSize> {
    for (;;) {
      const next = this.queued.shift();
      if (next !== undefined) yield next;
      else if (this.closed) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  push(size: TerminalSize): void {
    this.queued.push(size);
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }
}

interface TestIO extends StreamIO {
  out: Collector;
  err: Collector;
  client: AbortController;
}

function testIO(options: { stdin?: Readable; tty?: boolean; resizes?: AsyncIterable<TerminalSize> } = {}): TestIO {
  const out = new Collector();
  const err = new Collector();
  const client = new AbortController();
  const tty = options.tty ?? false;
  return { stdin: options.stdin, stdout: out, stderr: tty ? undefined : err, tty, resizes: options.resizes, signal: client.signal, out, err, client };
}

describe('exec and attach streams through conmon', () => {
  const cgroupParent = `/podvisor-streams-${newId().slice(0, 12)}`;
  let scratch: string;
  let layer: string;
  let handler: ConmonHandler;
  let containers: { id: string; rootfs: ContainerRootfs }[] = [];

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'podvisor-streams-'));
    layer = join(scratch, 'layer');
    await makeBusyboxLayer(layer);
    handler = new ConmonHandler(
      'runc',
      { ...OCI_HANDLER_DEFAULTS, runtime_path: '/usr/bin/runc' },
      { runroot: join(scratch, 'run'), cgroupManager: 'cgroupfs', logger: createLogger('error', 'text') },
    );
  });

  afterEach(async () => {
    for (const { id, rootfs } of containers) {
      await handler.removeContainer(id);
      await removeRootfs(rootfs);
    }
    containers = [];
  });

  afterAll(async () => {
    await removeCgroupTree(cgroupParent);
    await rm(scratch, { recursive: true, force: true });
  });

  async function run(args: string[], streams: { terminal?: boolean; stdin?: boolean } = {}): Promise<string> {
    const id = newId();
    const rootfs = await mountRootfs(join(scratch, 'containers', id), [layer]);
    containers.push({ id, rootfs });
    const bundle = join(rootfs.dir, 'bundle');
    await mkdir(bundle, { recursive: true });
    const terminal = streams.terminal ?? false;
    await writeFile(join(bundle, 'config.json'), JSON.stringify(testSpec(rootfs.mountPoint, args, `${cgroupParent}/${id}`, { terminal })));
    const logPath = join(scratch, 'logs', `${id}.log`);
    await mkdir(join(scratch, 'logs'), { recursive: true });
    // stdin_once, so that stdin closes as an attached client leaves.
    await handler.createContainer({ id, podId: 'streams-pod', bundle, logPath, terminal, stdin: streams.stdin ?? false, stdinOnce: true, podCgroupPath: cgroupParent, timeoutMs: 20_000 });
    await handler.startContainer(id);
    return id;
  }

  /** The pids in the container's cgroup: its main process plus whatever else runs in it. */
  async function processesIn(id: string): Promise<string[]> {
    const procs = await readFile(join(CGROUP_ROOT, 'pids', cgroupParent, id, 'cgroup.procs'), 'utf8');
    return procs.split('\n').filter((line) => line !== '');
  }

  it('execs without a tty: stdout and stderr apart, the exit code back, nothing left behind', async () => {
    const id = await run(['sleep', '60']);
    const io = testIO();
    const started = process.hrtime.bigint();
    expect(await handler.exec(id, ['sh', '-c', 'echo out; echo err >&2; exit 3'], io)).toBe(3);
    const roundTripMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(io.out.text()).toBe('out\n');
    expect(io.err.text()).toBe('err\n');
    process.stdout.write(`exec round trip (conmon + runc exec + relay): ${roundTripMs.toFixed(0)} ms\n`);
    // The session's directory, conmon and the process are gone.
    expect(await readdir(join(scratch, 'run', 'handlers', 'runc', 'containers', id, 'exec'))).toEqual([]);
    expect(await processesIn(id)).toHaveLength(1);
  });

  it('passes stdin to the exec\'d process and ends it with EOF', async () => {
    const id = await run(['sleep', '60']);
    const io = testIO({ stdin: Readable.from([Buffer.from('hello '), Buffer.from('world')]) });
    expect(await handler.exec(id, ['cat'], io)).toBe(0);
    expect(io.out.text()).toBe('hello world');
  });

  /** Reports `size` and waits until `busybox stty size` in the shell on the terminal shows it. */
  async function terminalFollows(stdin: PassThrough, io: TestIO, sizes: SizeQueue, size: TerminalSize): Promise<boolean> {
    sizes.push(size);
    // The shell may read the command before conmon applied the size: ask until it shows.
    return waitFor(async () => {
      stdin.write('busybox stty size\n');
      await sleep(100);
      return io.out.text().includes(`${size.height} ${size.width}\r\n`);
    }, OUTPUT_WAIT_MS);
  }

  it('execs with a tty that follows the client\'s resizes', async () => {
    const id = await run(['sleep', '60']);
    const stdin = new PassThrough();
    const sizes = new SizeQueue();
    const io = testIO({ stdin, tty: true, resizes: sizes.sizes() });
    const exited = handler.exec(id, ['sh'], io);
    try {
      expect(await terminalFollows(stdin, io, sizes, { width: 100, height: 40 })).toBe(true);
      expect(await terminalFollows(stdin, io, sizes, { width: 132, height: 50 })).toBe(true);
      stdin.write('exit 7\n');
      expect(await exited).toBe(7);
    } finally {
      sizes.close();
    }
  });

  it('kills the exec\'d process and its children when the client goes away', async () => {
    const id = await run(['sleep', '60']);
    const io = testIO();
    const exited = handler.exec(id, ['sh', '-c', 'sleep 1000 & echo started; wait'], io);
    expect(await io.out.until(/started/)).toBe(true);
    expect((await processesIn(id)).length).toBeGreaterThan(1);
    io.client.abort();
    expect(await exited).toBe(137);
    expect(await waitFor(async () => (await processesIn(id)).length === 1, OUTPUT_WAIT_MS)).toBe(true);
  });

  it('ends an exec whose client stopped reading and went away', async () => {
    const id = await run(['sleep', '60']);
    let taken = 0;
    // Takes one chunk and never asks for more, like a client that hung and then disconnected.
    const stuck = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer) {
        taken += chunk.length;
      },
    });
    const io = { ...testIO(), stdout: stuck };
    const exited = handler.exec(id, ['busybox', 'yes'], io);
    expect(await waitFor(async () => taken > 0, OUTPUT_WAIT_MS)).toBe(true);
    io.client.abort();
    expect(await exited).toBe(137);
    expect(await waitFor(async () => (await processesIn(id)).length === 1, OUTPUT_WAIT_MS)).toBe(true);
  });

  it('carries 20 MB of exec output to a slow reader without piling it up', async () => {
    const id = await run(['sleep', '60']);
    const size = 20 * 1024 * 1024;
    let received = 0;
    let wrong = 0;
    let writes = 0;
    let mostBuffered = 0;
    const slow = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const byte of chunk) if (byte !== 0x79 && byte !== 0x0a) wrong++;
        received += chunk.length;
        writes++;
        // Every so often the reader stalls; everything behind it must wait, not queue up.
        if (writes % 32 === 0) setTimeout(callback, 20);
        else callback();
      },
    });
    const watchBuffered = setInterval(() => {
      mostBuffered = Math.max(mostBuffered, slow.writableLength);
    }, 5);
    const io = { ...testIO(), stdout: slow };
    try {
      expect(await handler.exec(id, ['sh', '-c', `busybox yes | busybox head -c ${size}`], io)).toBe(0);
    } finally {
      clearInterval(watchBuffered);
    }
    // The caller ends stdout once exec settles, as the streaming server does; the reader may
    // still be working through what it was handed.
    await new Promise<void>((resolve) => slow.end(resolve));
    expect(received).toBe(size);
    expect(wrong).toBe(0);
    // Back-pressure held: the reader never had more than a packet or two waiting for it.
    expect(mostBuffered).toBeLessThanOrEqual(slow.writableHighWaterMark + 64 * 1024);
  });

  it('refuses exec into a container that is not running, and reports a command that cannot run', async () => {
    const id = await run(['sh', '-c', 'exit 0']);
    expect(await waitFor(async () => (await handler.containerState(id)).status === 'stopped', OUTPUT_WAIT_MS)).toBe(true);
    await expect(handler.exec(id, ['true'], testIO())).rejects.toBeInstanceOf(FailedPreconditionError);

    const running = await run(['sleep', '60']);
    const failed = handler.exec(running, ['/no/such/program'], testIO());
    await expect(failed).rejects.toBeInstanceOf(InternalError);
    await expect(failed).rejects.toThrow(/no\/such\/program/);
  });

  it('attaches to a container with a tty and stdin, follows resizes, and detaches leaving it running', async () => {
    const id = await run(['sh'], { terminal: true, stdin: true });
    const stdin = new PassThrough();
    const sizes = new SizeQueue();
    const io = testIO({ stdin, tty: true, resizes: sizes.sizes() });
    const attached = handler.attach(id, io);
    try {
      stdin.write('echo hello\n');
      expect(await io.out.until(/^hello\r$/m)).toBe(true);
      expect(await terminalFollows(stdin, io, sizes, { width: 90, height: 30 })).toBe(true);
      io.client.abort();
      await attached;
    } finally {
      sizes.close();
    }
    expect((await handler.containerState(id)).status).toBe('running');
  });

  it('attaches without a tty: stdout and stderr apart, stdin EOF reaches the process, ends with it', async () => {
    const id = await run(['sh', '-c', 'cat; echo bye >&2'], { stdin: true });
    const io = testIO({ stdin: Readable.from([Buffer.from('ping\n')]) });
    await handler.attach(id, io);
    expect(io.out.text()).toBe('ping\n');
    expect(io.err.text()).toBe('bye\n');
    expect(await waitFor(async () => (await handler.containerState(id)).status === 'stopped', OUTPUT_WAIT_MS)).toBe(true);
  });

  it('refuses to attach to a container that has exited', async () => {
    const id = await run(['sh', '-c', 'exit 0']);
    expect(await waitFor(async () => (await handler.containerState(id)).status === 'stopped', OUTPUT_WAIT_MS)).toBe(true);
    await expect(handler.attach(id, testIO())).rejects.toBeInstanceOf(FailedPreconditionError);
  });
});
