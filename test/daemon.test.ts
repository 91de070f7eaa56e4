// The real daemon, started as a process on a scratch socket and root, driven over gRPC.
import { status as Code, type Client } from '@grpc/grpc-js';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect, createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CgroupDriver,
  CheckpointContainerRequest,
  ImageServiceService,
  PodSandboxConfig,
  PullImageRequest,
  RuntimeServiceService,
  VersionRequest,
  VersionResponse,
} from '../proto/gen/cri-api-v1';
import { pathExists } from '../system/path-exists';
import { grpcFailure } from './support/grpc-failure';
import { criClient, unary } from '../testbed/cri-client';
import { DaemonProcess, isolatingFlags, removeDirs, testDirs, type TestDirs } from '../testbed/daemon-process';

const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

const HANDLERS = `
[runtime]
default_handler = "runc"
[runtime.handlers.runc]
type = "oci"
runtime_path = "/usr/bin/runc"
[runtime.handlers.broken]
type = "oci"
runtime_path = "/nonexistent/runc"
`;

const CONFLIST = JSON.stringify({ cniVersion: '1.0.0', name: 'pods', plugins: [{ type: 'bridge' }] });

/**
 * One raw HTTP/2 gRPC call with the :authority a Go client sends for a unix socket: the
 * socket's path. Returns the grpc-status trailer and the response body.
 */
function rawCall(socket: string, path: string, body: Buffer[], authority: string): Promise<{ status: string; message: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const session = h2connect('http://localhost', { createConnection: () => netConnect(socket) });
    session.on('error', reject);
    const results: Promise<{ status: string; message: Buffer }>[] = body.map(
      (payload) =>
        new Promise((done, fail) => {
          const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), payload]);
          frame.writeUInt32BE(payload.length, 1);
          const request = session.request({ ':method': 'POST', ':path': path, ':authority': authority, 'content-type': 'application/grpc', te: 'trailers' });
          const chunks: Buffer[] = [];
          let status = '';
          request.on('data', (chunk: Buffer) => chunks.push(chunk));
          // A call that fails before any message may put its status in the headers (trailers-only).
          request.on('response', (headers) => (status = String(headers['grpc-status'] ?? '')));
          request.on('trailers', (trailers) => (status = String(trailers['grpc-status'])));
          request.on('error', fail);
          request.on('close', () => done({ status, message: Buffer.concat(chunks).subarray(5) }));
          request.end(frame);
        }),
    );
    Promise.all(results).then((all) => {
      session.close();
      resolve(all);
    }, reject);
  });
}

describe('podvisord', () => {
  let dirs: TestDirs;
  let daemon: DaemonProcess;
  let client: Client;

  beforeAll(async () => {
    dirs = await testDirs();
    await writeFile(dirs.configFile, HANDLERS);
    daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--log-level', 'debug']);
    client = criClient(dirs.socket);
  });

  afterAll(async () => {
    client?.close();
    await daemon?.stop('SIGKILL');
    await removeDirs(dirs);
  });

  test('Version names podvisor, its package version and CRI v1', async () => {
    const response = await unary(client, RuntimeServiceService.version, { version: 'v1' });
    expect(response).toEqual({ version: '0.1.0', runtimeName: 'podvisor', runtimeVersion: VERSION, runtimeApiVersion: 'v1' });
  });

  test('the socket is mode 0660', async () => {
    const stats = await stat(dirs.socket);
    expect(stats.isSocket()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o660);
  });

  test('Status: RuntimeReady with runc and conmon present; NetworkReady follows the CNI directory', async () => {
    const before = await unary(client, RuntimeServiceService.status, { verbose: false });
    const [runtime, network] = before.status?.conditions ?? [];
    expect(runtime).toEqual({ type: 'RuntimeReady', status: true, reason: '', message: '' });
    expect(network).toMatchObject({ type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady' });
    expect(network.message).toContain(dirs.cniDir);
    // '' is the default handler, as CRI names it.
    expect(before.runtimeHandlers.map((handler) => handler.name)).toEqual(['', 'runc', 'broken']);
    expect(before.info).toEqual({});

    await writeFile(join(dirs.cniDir, '10-pods.conflist'), CONFLIST);
    const after = await unary(client, RuntimeServiceService.status, { verbose: false });
    expect(after.status?.conditions[1]).toEqual({ type: 'NetworkReady', status: true, reason: '', message: '' });
  });

  test('Status verbose carries the effective config as JSON', async () => {
    const response = await unary(client, RuntimeServiceService.status, { verbose: true });
    const config = JSON.parse(response.info.config) as { socket: string; root: string; log: { level: string } };
    expect(config).toMatchObject({ socket: dirs.socket, root: dirs.root, log: { level: 'debug' } });
    expect(JSON.parse(response.info.runtimeHandlers)).toMatchObject({
      runc: { type: 'oci', ready: true },
      broken: { type: 'oci', ready: false, message: expect.stringContaining('/nonexistent/runc') },
    });
  });

  test('RuntimeConfig reports the cgroup driver in use', async () => {
    const response = await unary(client, RuntimeServiceService.runtimeConfig, {});
    expect(response.linux?.cgroupDriver).toBe(CgroupDriver.CGROUPFS);
  });

  test('CheckpointContainer answers UNIMPLEMENTED saying checkpointing is not supported, and why', async () => {
    const refused = await grpcFailure(unary(client, RuntimeServiceService.checkpointContainer, CheckpointContainerRequest.fromPartial({ containerId: 'x' })));
    expect(refused.code).toBe(Code.UNIMPLEMENTED);
    expect(refused.details).toContain(`CheckpointContainer (container x) is not supported by podvisor ${VERSION}`);
    expect(refused.details).toContain('CRIU');
  });

  test('each call is logged at debug with method, IDs, duration and code; credentials never are', async () => {
    const secrets = ['hunter2-password', 'dXNlcjpodW50ZXIy-auth', 'identity-tok-77', 'registry-tok-88'];
    // The pull fails (no such registry), after the credentials have been handed to the client.
    await grpcFailure(
      unary(
        client,
        ImageServiceService.pullImage,
        PullImageRequest.fromPartial({
          image: { image: '127.0.0.1:1/team/app:1.2' },
          auth: { username: 'builder', password: secrets[0], auth: secrets[1], serverAddress: '127.0.0.1:1', identityToken: secrets[2], registryToken: secrets[3] },
        }),
      ),
    );
    await grpcFailure(unary(client, RuntimeServiceService.containerStatus, { containerId: 'c0ffee', verbose: false }));
    await daemon.waitForOutput('method=ContainerStatus');
    expect(daemon.log).toMatch(/CRI call method=Version duration_ms=[\d.]+ code=OK/);
    expect(daemon.log).toMatch(/error CRI call failed method=PullImage image=127.0.0.1:1\/team\/app:1.2 duration_ms=[\d.]+ code=\w+/);
    expect(daemon.log).toMatch(/method=ContainerStatus container_id=c0ffee duration_ms=[\d.]+ code=NOT_FOUND/);
    for (const secret of secrets) expect(daemon.log).not.toContain(secret);
  });

  test('a Go-style client sending the socket path as :authority is served, across requests on one connection', async () => {
    const request = Buffer.from(VersionRequest.encode({ version: 'v1' }).finish());
    const results = await rawCall(dirs.socket, '/runtime.v1.RuntimeService/Version', [request, request, request], dirs.socket);
    for (const result of results) {
      expect(result.status).toBe('0');
      expect(VersionResponse.decode(result.message).runtimeName).toBe('podvisor');
    }
  });

  test('malformed requests and garbage connections get errors, and the daemon keeps serving', async () => {
    const [garbage] = await rawCall(dirs.socket, '/runtime.v1.RuntimeService/Status', [Buffer.from([0xff, 0xff, 0xff, 0xff])], 'localhost');
    expect(garbage.status).not.toBe('0');
    const [unknown] = await rawCall(dirs.socket, '/runtime.v1.RuntimeService/NoSuchVerb', [Buffer.alloc(0)], 'localhost');
    expect(unknown.status).toBe(String(Code.UNIMPLEMENTED));
    await new Promise<void>((resolve) => {
      const raw = netConnect(dirs.socket, () => raw.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + 'x'.repeat(100000)));
      raw.on('close', () => resolve());
      raw.on('error', () => undefined);
      raw.resume();
    });
    const response = await unary(client, RuntimeServiceService.version, { version: 'v1' });
    expect(response.runtimeName).toBe('podvisor');
  });

  test('a second instance on the same socket is refused and the first keeps serving', async () => {
    const otherRoot = join(dirs.dir, 'root2');
    const second = DaemonProcess.spawn([...isolatingFlags(dirs), '--root', otherRoot]);
    const exit = await second.waitForExit();
    expect(exit.code).toBe(1);
    expect(second.log).toContain(`another instance is already serving ${dirs.socket}`);
    expect((await unary(client, RuntimeServiceService.version, { version: 'v1' })).runtimeName).toBe('podvisor');
  });

  test('a second instance on the same root is refused, even on another socket', async () => {
    const second = DaemonProcess.spawn([...isolatingFlags(dirs), '--socket', join(dirs.dir, 'other.sock')]);
    const exit = await second.waitForExit();
    expect(exit.code).toBe(1);
    expect(second.log).toContain(`${join(dirs.root, 'podvisord.lock')} is held by running process ${daemon.child.pid}`);
    expect(await pathExists(join(dirs.dir, 'other.sock'))).toBe(false);
  });
});

describe('podvisord lifecycle', () => {
  let dirs: TestDirs;
  beforeEach(async () => {
    dirs = await testDirs();
    await writeFile(dirs.configFile, HANDLERS);
  });
  afterEach(() => removeDirs(dirs));

  test('RuntimeReady is false, naming the missing binary, when the default handler cannot run; its pods fail saying so', async () => {
    const daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--default-runtime', 'broken']);
    const client = criClient(dirs.socket);
    try {
      const response = await unary(client, RuntimeServiceService.status, { verbose: false });
      const message = 'handler broken: runtime /nonexistent/runc is missing or not executable';
      expect(response.status?.conditions[0]).toEqual({ type: 'RuntimeReady', status: false, reason: 'RuntimeHandlerNotReady', message });
      const config = PodSandboxConfig.fromPartial({ metadata: { name: 'p', namespace: 'test', uid: 'p' } });
      const refused = await grpcFailure(unary(client, RuntimeServiceService.runPodSandbox, { config, runtimeHandler: 'broken' }));
      expect([refused.code, refused.details]).toEqual([Code.FAILED_PRECONDITION, message]);
    } finally {
      client.close();
      await daemon.stop();
    }
  });

  test.each<NodeJS.Signals>(['SIGTERM', 'SIGINT'])('%s exits 0 and leaves no socket or lock behind', async (signal) => {
    const daemon = await DaemonProcess.serving(isolatingFlags(dirs));
    expect(await pathExists(dirs.socket)).toBe(true);
    const exit = await daemon.stop(signal);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await pathExists(dirs.socket)).toBe(false);
    expect(await pathExists(join(dirs.root, 'podvisord.lock'))).toBe(false);
    expect(daemon.log).toContain('podvisord stopped');
  });

  test('SIGTERM with a client still connected (as the kubelet stays) shuts down gracefully', async () => {
    const daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--shutdown-timeout-seconds', '60']);
    const client = criClient(dirs.socket);
    try {
      await unary(client, RuntimeServiceService.version, { version: 'v1' });
      expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(daemon.log).not.toContain('calls still in flight');
      expect(await pathExists(dirs.socket)).toBe(false);
    } finally {
      client.close();
    }
  });

  test('after a crash, the stale socket and lock are replaced by the next start', async () => {
    const crashed = await DaemonProcess.serving(isolatingFlags(dirs));
    await crashed.stop('SIGKILL');
    expect((await stat(dirs.socket)).isSocket()).toBe(true);
    const next = await DaemonProcess.serving(isolatingFlags(dirs));
    const client = criClient(dirs.socket);
    try {
      expect((await unary(client, RuntimeServiceService.version, { version: 'v1' })).runtimeName).toBe('podvisor');
    } finally {
      client.close();
      await next.stop();
    }
  });

  test('a file in the socket\'s place that is not a socket is never replaced', async () => {
    const path = join(dirs.dir, 'not-a-socket');
    await writeFile(path, 'precious');
    const daemon = DaemonProcess.spawn([...isolatingFlags(dirs), '--socket', path]);
    expect((await daemon.waitForExit()).code).toBe(1);
    expect(daemon.log).toContain(`${path} exists and is not a socket`);
    expect(await readFile(path, 'utf8')).toBe('precious');
  });

  test('SIGHUP reloads the log level from the file', async () => {
    await writeFile(dirs.configFile, HANDLERS + '\n[log]\nlevel = "info"\n');
    const daemon = await DaemonProcess.serving(isolatingFlags(dirs));
    const client = criClient(dirs.socket);
    try {
      await unary(client, RuntimeServiceService.version, { version: 'v1' });
      expect(daemon.log).not.toContain('method=Version');
      await writeFile(dirs.configFile, HANDLERS + '\n[log]\nlevel = "debug"\nformat = "json"\n');
      daemon.child.kill('SIGHUP');
      await daemon.waitForOutput('config reloaded');
      await unary(client, RuntimeServiceService.version, { version: 'v1' });
      await daemon.waitForOutput('"method":"Version"');
    } finally {
      client.close();
      await daemon.stop();
    }
  });

  test('the systemd cgroup manager is refused where systemd is not running, and reported where it is', async () => {
    const systemdRunning = await pathExists('/run/systemd/system');
    const daemon = DaemonProcess.spawn([...isolatingFlags(dirs), '--cgroup-manager', 'systemd']);
    if (!systemdRunning) {
      expect((await daemon.waitForExit()).code).toBe(1);
      expect(daemon.log).toContain('but systemd is not running here (no /run/systemd/system)');
      expect(await pathExists(dirs.socket)).toBe(false);
      return;
    }
    await daemon.waitForOutput('podvisord serving CRI v1');
    const client = criClient(dirs.socket);
    try {
      expect((await unary(client, RuntimeServiceService.runtimeConfig, {})).linux?.cgroupDriver).toBe(CgroupDriver.SYSTEMD);
    } finally {
      client.close();
      await daemon.stop();
    }
  });

  test('metrics, when an address is set, count CRI calls by method and code', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--metrics-address', `127.0.0.1:${port}`]);
    const client = criClient(dirs.socket);
    try {
      await unary(client, RuntimeServiceService.version, { version: 'v1' });
      await unary(client, RuntimeServiceService.version, { version: 'v1' });
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain('podvisor_cri_request_duration_seconds_count{method="Version",code="OK"} 2');
    } finally {
      client.close();
      await daemon.stop();
    }
  });
});
