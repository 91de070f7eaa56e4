// Exec, Attach and PortForward through the real daemon: the URL each verb returns, driven with
// the kubelet's protocol (SPDY/3.1) into real containers run by conmon and runc in a real pod.
import { status as Code, type Client } from '@grpc/grpc-js';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerConfig, ContainerState, RuntimeServiceService } from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';
import { grpcFailure } from './support/grpc-failure';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { openExecStreams, readAll, upgradeOrFail, upgradeSpdy } from './support/spdy-client';

const V4 = ['v4.channel.k8s.io'];

describe('streaming verbs', () => {
  let fixture: ContainerDaemon | undefined;
  let client: Client;
  let image: string;
  let podId: string;

  const create = async (name: string, command: string[], extra: Parameters<typeof ContainerConfig.fromPartial>[0] = {}): Promise<string> => {
    const { containerId } = await unary(client, RuntimeServiceService.createContainer, {
      podSandboxId: podId,
      config: ContainerConfig.fromPartial({ metadata: { name }, image: { image }, command, logPath: `${name}.log`, ...extra }),
      sandboxConfig: undefined,
    });
    await unary(client, RuntimeServiceService.startContainer, { containerId });
    return containerId;
  };
  const remove = (id: string) => unary(client, RuntimeServiceService.removeContainer, { containerId: id });
  const execUrl = async (containerId: string, cmd: string[], flags: { stdin?: boolean; stdout?: boolean; stderr?: boolean; tty?: boolean } = {}) =>
    (await unary(client, RuntimeServiceService.exec, { containerId, cmd, stdin: false, stdout: true, stderr: true, tty: false, ...flags })).url;

  beforeAll(async () => {
    fixture = await ContainerDaemon.start('10.219.11.0/24');
    ({ client, image } = fixture);
    podId = await fixture.runPod('streams', '');
  });

  afterAll(() => fixture?.close(), CLOSE_MS);

  test('Exec runs the command with the client\'s streams and reports its exit code; the URL works once', async () => {
    const id = await create('exec', ['sleep', '300']);
    const url = await execUrl(id, ['sh', '-c', 'read line; echo "out $line"; echo err >&2; exit 3'], { stdin: true });
    const { session, protocol } = await upgradeOrFail(url, ['v5.channel.k8s.io', ...V4]);
    expect(protocol).toBe('v5.channel.k8s.io');
    const streams = await openExecStreams(session, { stdin: true, stdout: true, stderr: true, tty: false });
    streams.stdin?.end('typed\n');
    const [stdout, stderr, error] = await Promise.all([readAll(streams.stdout as Readable), readAll(streams.stderr as Readable), readAll(streams.error)]);
    expect([stdout, stderr]).toEqual(['out typed\n', 'err\n']);
    expect(JSON.parse(error)).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    session.destroy();
    const again = await upgradeSpdy(url, V4);
    expect(again.upgraded ? 101 : again.status).toBe(404);
    await remove(id);
  });

  test('Exec with a tty gives the command a terminal', async () => {
    const id = await create('tty', ['sleep', '300']);
    const { session } = await upgradeOrFail(await execUrl(id, ['sh', '-c', 'tty; stty size'], { stdin: true, stderr: false, tty: true }), V4);
    const streams = await openExecStreams(session, { stdin: true, stdout: true, stderr: false, tty: true });
    streams.resize?.write('{"Width":123,"Height":45}\n');
    const [stdout, error] = await Promise.all([readAll(streams.stdout as Readable), readAll(streams.error)]);
    expect(stdout).toMatch(/^\/dev\/pts\/\d+\r\n/);
    expect(JSON.parse(error)).toMatchObject({ status: 'Success' });
    session.destroy();
    await remove(id);
  });

  test('Attach joins the main process of a container with a tty and stdin', async () => {
    const id = await create('shell', ['sh'], { stdin: true, tty: true });
    const { url } = await unary(client, RuntimeServiceService.attach, { containerId: id, stdin: true, tty: true, stdout: true, stderr: false });
    const { session } = await upgradeOrFail(url, V4);
    const streams = await openExecStreams(session, { stdin: true, stdout: true, stderr: false, tty: true });
    let output = '';
    streams.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    streams.stdin?.write('echo attached-$((6*7))\n');
    for (let i = 0; i < 100 && !output.includes('attached-42'); i++) await sleep(50);
    expect(output).toContain('attached-42');
    session.destroy();
    // Detaching leaves the container running.
    await sleep(200);
    expect((await unary(client, RuntimeServiceService.containerStatus, { containerId: id, verbose: false })).status?.state).toBe(ContainerState.CONTAINER_RUNNING);
    await remove(id);
  });

  test('PortForward reaches a server on the pod\'s localhost, two connections at once', async () => {
    const id = await create('httpd', ['sh', '-c', 'mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www']);
    const { url } = await unary(client, RuntimeServiceService.portForward, { podSandboxId: podId, port: [8080] });
    const { session } = await upgradeOrFail(url, ['portforward.k8s.io']);
    const get = async (requestId: number): Promise<string> => {
      const headers = { port: ['8080'], requestid: [String(requestId)] };
      const error = await session.openStream({ ...headers, streamtype: ['error'] });
      error.end();
      const data = await session.openStream({ ...headers, streamtype: ['data'] });
      data.end('GET /index.html HTTP/1.0\r\n\r\n');
      const [reply, failure] = await Promise.all([readAll(data), readAll(error)]);
      expect(failure).toBe('');
      return reply;
    };
    for (let i = 0; i < 50; i++) {
      // httpd may still be starting; a refused connection shows on the error stream.
      const probe = await get(1000 + i).catch(() => '');
      if (probe.includes('hello-from-pod')) break;
      await sleep(100);
    }
    const replies = await Promise.all([get(0), get(1)]);
    for (const reply of replies) expect(reply).toMatch(/^HTTP\/1\.[01] 200 OK[\s\S]*hello-from-pod\n$/);
    session.destroy();
    await remove(id);
  });

  test('bad requests are refused by name and issue no URL', async () => {
    const id = await create('idle', ['sleep', '300']);
    const refused = async (call: Promise<unknown>) => {
      const failure = await grpcFailure(call);
      return [failure.code, failure.details];
    };
    expect(await refused(unary(client, RuntimeServiceService.exec, { containerId: id, cmd: [], stdin: false, stdout: true, stderr: false, tty: false }))).toEqual([Code.INVALID_ARGUMENT, 'Exec: cmd is empty']);
    expect(await refused(unary(client, RuntimeServiceService.exec, { containerId: id, cmd: ['sh'], stdin: false, stdout: false, stderr: false, tty: false }))).toEqual([
      Code.INVALID_ARGUMENT,
      'Exec: one of stdin, stdout or stderr must be requested',
    ]);
    expect((await refused(unary(client, RuntimeServiceService.attach, { containerId: id, stdin: true, tty: true, stdout: true, stderr: true })))[0]).toBe(Code.INVALID_ARGUMENT);
    expect((await refused(unary(client, RuntimeServiceService.exec, { containerId: 'ffffff', cmd: ['sh'], stdin: false, stdout: true, stderr: false, tty: false })))[0]).toBe(Code.NOT_FOUND);
    expect((await refused(unary(client, RuntimeServiceService.portForward, { podSandboxId: 'ffffff', port: [80] })))[0]).toBe(Code.NOT_FOUND);
    expect(await refused(unary(client, RuntimeServiceService.portForward, { podSandboxId: podId, port: [70000] }))).toEqual([Code.INVALID_ARGUMENT, 'PortForward: port 70000 is not from 1 to 65535']);
    await unary(client, RuntimeServiceService.stopContainer, { containerId: id, timeout: 0n });
    expect(await refused(unary(client, RuntimeServiceService.exec, { containerId: id, cmd: ['sh'], stdin: false, stdout: true, stderr: false, tty: false }))).toEqual([
      Code.FAILED_PRECONDITION,
      `container ${id} is not running`,
    ]);
    await remove(id);
  });
});
