// Containers with a terminal and with stdin, through the real daemon, on runc and on crun.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerState, RuntimeServiceService } from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';
import { ContainerDaemon, type ContainerOptions } from './support/container-daemon';

const SOCAT_TIMEOUT_MS = 10_000;

/**
 * One attach session on conmon's attach socket in `socketDir` (a SOCK_SEQPACKET, which Node cannot open):
 * sends `input` to the container's stdin, then leaves, as a client ending `crictl attach` does.
 */
function attachSession(socketDir: string, input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Relative to its directory: the full path is longer than a socket address may be.
    const socat = spawn('socat', ['-u', '-', 'UNIX-CONNECT:attach,socktype=5'], { cwd: socketDir, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    socat.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => socat.kill('SIGKILL'), SOCAT_TIMEOUT_MS);
    socat.on('error', reject);
    socat.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`socat exited with ${code}: ${stderr}`));
    });
    socat.stdin.end(input);
  });
}

describe.each(['runc', 'crun'])('terminal and stdin on %s', (handler) => {
  let daemon: ContainerDaemon;
  let podId: string;
  const pod = `tty-${handler}`;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start(handler === 'runc' ? '10.219.22.0/24' : '10.219.23.0/24');
    podId = await daemon.runPod(pod, handler);
  });

  afterAll(() => daemon?.close());

  async function run(name: string, command: string[], extra: ContainerOptions): Promise<string> {
    const id = await daemon.createContainer(podId, name, command, extra);
    await unary(daemon.client, RuntimeServiceService.startContainer, { containerId: id });
    return id;
  }

  async function logLines(name: string, count: number): Promise<string[]> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const lines = (await readFile(daemon.logFile(pod, name), 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
      if (lines.length >= count) return lines.map((line) => line.replace(/^\S+ /, ''));
      await sleep(100);
    }
    throw new Error(`${name} never logged ${count} lines`);
  }

  const remove = (id: string) => unary(daemon.client, RuntimeServiceService.removeContainer, { containerId: id });
  // conmon links the bundle, where its attach socket is, into its socket directory by container ID.
  const attachDir = (id: string) => join(daemon.dirs.runroot, 'handlers', handler, 'containers', id, id);

  test('tty: the container runs on a terminal, and its output is logged as stdout', async () => {
    const id = await run('term', ['sh', '-c', 'tty; [ -t 0 ] && echo stdin-is-a-terminal; sleep 300'], { tty: true });
    // A terminal ends lines with CR LF; conmon logs the line, CR and all, as stdout.
    expect(await logLines('term', 2)).toEqual([expect.stringMatching(/^stdout F \/dev\/pts\/\d+\r$/), 'stdout F stdin-is-a-terminal\r']);
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
    await attachSession(attachDir(once), 'first session\n');
    await attachSession(attachDir(kept), 'first session\n');
    expect(await logLines('once', 1)).toEqual(['stdout F first session']);
    expect(await logLines('kept', 1)).toEqual(['stdout F first session']);
    await daemon.waitForState(once, ContainerState.CONTAINER_EXITED);
    expect((await daemon.status(once)).exitCode).toBe(0);
    // The second session still reaches the container whose stdin was left open.
    await attachSession(attachDir(kept), 'second session\n');
    expect(await logLines('kept', 2)).toEqual(['stdout F first session', 'stdout F second session']);
    expect((await daemon.status(kept)).state).toBe(ContainerState.CONTAINER_RUNNING);
    await Promise.all([remove(once), remove(kept)]);
  });
});
