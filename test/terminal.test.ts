// Containers with a terminal and with stdin, through the real daemon, on runc and on crun.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { relayAttachSocket } from '../oci/conmon/attach-socket';
import { waitUntil } from '../system/wait-until';
import { ContainerState, RuntimeServiceService } from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon, type ContainerOptions } from './support/container-daemon';
import { completeLines } from './support/cri-log';

const LOG_WAIT_MS = 5_000;
const POLL_MS = 100;

describe.each(['runc', 'crun'])('terminal and stdin on %s', (handler) => {
  let daemon: ContainerDaemon;
  let podId: string;
  const pod = `tty-${handler}`;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start(handler === 'runc' ? '10.219.22.0/24' : '10.219.23.0/24');
    podId = await daemon.runPod(pod, handler);
  });

  afterAll(() => daemon?.close(), CLOSE_MS);

  async function run(name: string, command: string[], extra: ContainerOptions): Promise<string> {
    const id = await daemon.createContainer(podId, name, command, extra);
    await unary(daemon.client, RuntimeServiceService.startContainer, { containerId: id });
    return id;
  }

  /** The first `count` complete lines of the container's CRI log (see completeLines), waiting up to 5 s for them. */
  async function logLines(name: string, count: number): Promise<string[]> {
    let lines: string[] = [];
    const read = async (): Promise<boolean> => {
      lines = completeLines(await readFile(daemon.logFile(pod, name), 'utf8').catch(() => ''));
      return lines.length >= count;
    };
    if (!(await waitUntil(read, LOG_WAIT_MS, POLL_MS))) throw new Error(`${name} never logged ${count} lines`);
    return lines;
  }

  const remove = (id: string) => unary(daemon.client, RuntimeServiceService.removeContainer, { containerId: id });
  // conmon links the bundle, where its attach socket is, into its socket directory by container ID.
  const attachDir = (id: string) => join(daemon.dirs.runroot, 'handlers', handler, 'containers', id, id);

  /**
   * One attach session through the daemon's own relay, as `crictl attach` ends one with Ctrl-C:
   * the client sends `input`, sees it logged as line `line` of `name`, and leaves without ending its input.
   */
  async function attachSession(id: string, input: string, name: string, line: number): Promise<string[]> {
    const stdin = new PassThrough();
    const leave = new AbortController();
    const session = relayAttachSocket(attachDir(id), { stdin, stdout: undefined, stderr: undefined, signal: leave.signal }, leave.signal);
    await session.connected;
    stdin.write(input);
    const lines = await logLines(name, line);
    leave.abort();
    await session.finished;
    return lines;
  }

  test('tty: the container runs on a terminal, and its output is logged as stdout', async () => {
    const id = await run('term', ['sh', '-c', 'tty; [ -t 0 ] && echo stdin-is-a-terminal; sleep 300'], { tty: true });
    // A terminal ends lines with CR LF; conmon logs the line, CR and all, as stdout.
    expect(await logLines('term', 2)).toEqual([expect.stringMatching(/^stdout \/dev\/pts\/\d+\r$/), 'stdout stdin-is-a-terminal\r']);
    await remove(id);
  });

  test('without stdin a reader sees end of file at once; with stdin it waits for input', async () => {
    const closed = await run('no-stdin', ['cat'], {});
    await daemon.waitForState(closed, ContainerState.CONTAINER_EXITED);
    expect((await daemon.status(closed)).exitCode).toBe(0);
    const open = await run('stdin', ['cat'], { stdin: true });
    await sleep(500);
    expect((await daemon.status(open)).state).toBe(ContainerState.CONTAINER_RUNNING);
    await Promise.all([remove(closed), remove(open)]);
  });

  test('stdin_once: stdin closes when the first attach session ends; otherwise it stays open', async () => {
    const once = await run('once', ['cat'], { stdin: true, stdinOnce: true });
    const kept = await run('kept', ['cat'], { stdin: true, stdinOnce: false });
    expect(await attachSession(once, 'first session\n', 'once', 1)).toEqual(['stdout first session']);
    expect(await attachSession(kept, 'first session\n', 'kept', 1)).toEqual(['stdout first session']);
    await daemon.waitForState(once, ContainerState.CONTAINER_EXITED);
    expect((await daemon.status(once)).exitCode).toBe(0);
    // The second session still reaches the container whose stdin was left open.
    expect(await attachSession(kept, 'second session\n', 'kept', 2)).toEqual(['stdout first session', 'stdout second session']);
    expect((await daemon.status(kept)).state).toBe(ContainerState.CONTAINER_RUNNING);
    await Promise.all([remove(once), remove(kept)]);
  });
});
