// Pod sandboxes through the real daemon: real namespaces, the real bridge plugin, iptables,
// cgroups. Each test run uses its own bridge and subnet, so it never meets the default network.
import { status as Code, type Client } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  NamespaceMode,
  PodSandboxConfig,
  PodSandboxState,
  Protocol,
  RuntimeServiceService,
  type PodSandboxStatus,
} from '../proto/gen/cri-api-v1';
import { PAUSE_PATH } from '../oci/conmon/infra-process';
import { pathExists } from '../system/path-exists';
import { criClient, unary } from '../testbed/cri-client';
import { DaemonProcess, isolatingFlags, removeDirs, testDirs, type TestDirs } from '../testbed/daemon-process';
import { grpcFailure } from './support/grpc-failure';

const run = promisify(execFile);
const suffix = randomBytes(3).toString('hex');
const BRIDGE = `pvt${suffix}`;
const SUBNET_PREFIX = '10.219.7.';

function conflist(dataDir: string, extraPlugin?: object): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: `podvisor-test-${suffix}`,
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: `${SUBNET_PREFIX}0/24` }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ...(extraPlugin ? [extraPlugin] : []),
    ],
  });
}

type PodConfigInput = Parameters<typeof PodSandboxConfig.fromPartial>[0];

function podConfig(name: string, extra: PodConfigInput = {}): PodSandboxConfig {
  return PodSandboxConfig.fromPartial({
    metadata: { name, namespace: 'test', uid: `uid-${name}-${suffix}`, attempt: 0 },
    hostname: name,
    labels: { app: name, suite: suffix },
    ...extra,
  });
}

/** Names of the network namespaces, without the IDs the kernel assigns as peers appear. */
async function netnsNames(): Promise<string[]> {
  return (await output('ip', ['netns', 'list'])).split('\n').map((line) => line.replace(/ \(id: \d+\)$/, ''));
}

async function output(command: string, args: string[]): Promise<string> {
  return (await run(command, args, { timeout: 10000 })).stdout;
}

describe('pod sandboxes', () => {
  let dirs: TestDirs;
  let daemon: DaemonProcess;
  let client: Client;
  let cniDataDir: string;

  const runPod = async (config: PodSandboxConfig, runtimeHandler = ''): Promise<string> =>
    (await unary(client, RuntimeServiceService.runPodSandbox, { config, runtimeHandler })).podSandboxId;
  const podStatus = async (id: string, verbose = false) => unary(client, RuntimeServiceService.podSandboxStatus, { podSandboxId: id, verbose });
  const stop = (id: string) => unary(client, RuntimeServiceService.stopPodSandbox, { podSandboxId: id });
  const remove = (id: string) => unary(client, RuntimeServiceService.removePodSandbox, { podSandboxId: id });

  /** Every trace a pod leaves on the host while it exists. */
  async function traces(id: string): Promise<string[]> {
    const found: string[] = [];
    const netnsName = `podvisor-${id.slice(0, 16)}`;
    if ((await output('ip', ['netns', 'list'])).includes(netnsName)) found.push(`netns ${netnsName}`);
    if ((await readFile('/proc/self/mountinfo', 'utf8')).includes(id.slice(0, 16))) found.push('mount');
    const rules = (await output('iptables-save', [])).split('\n').filter((line) => line.includes(id.slice(0, 12)) || line.includes(id));
    found.push(...rules.map((rule) => `iptables ${rule}`));
    const leases = (await readdir(join(cniDataDir, `podvisor-test-${suffix}`)).catch(() => [] as string[])).filter((file) => file.startsWith(SUBNET_PREFIX));
    for (const lease of leases) if ((await readFile(join(cniDataDir, `podvisor-test-${suffix}`, lease), 'utf8')).includes(id)) found.push(`lease ${lease}`);
    for (const hierarchy of ['memory', 'pids', 'unified']) {
      if (await pathExists(join('/sys/fs/cgroup', hierarchy, 'podvisor', `pod-${id}`))) found.push(`cgroup ${hierarchy}`);
    }
    if (await pathExists(join(dirs.runroot, 'handlers', 'runc', 'pods', id))) found.push('pod files');
    return found;
  }

  /** The runc handler's pod directories, mounts under the run root and infra processes. */
  async function handlerTraces(): Promise<string[]> {
    const podDirs = await readdir(join(dirs.runroot, 'handlers', 'runc', 'pods')).catch(() => [] as string[]);
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => line.includes(dirs.runroot));
    const infra: string[] = [];
    for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
      const argv = (await readFile(join('/proc', pid, 'cmdline'), 'utf8').catch(() => '')).split('\0');
      if (argv[0] === PAUSE_PATH) infra.push(`infra ${argv.join(' ')}`);
    }
    return [...podDirs.map((dir) => `pod files ${dir}`), ...mounts.map((line) => `mount ${line}`), ...infra].sort();
  }

  async function vethCount(): Promise<number> {
    return (await output('ip', ['-o', 'link', 'show', 'master', BRIDGE]).catch(() => '')).split('\n').filter((line) => line.trim() !== '').length;
  }

  beforeAll(async () => {
    dirs = await testDirs();
    cniDataDir = join(dirs.dir, 'cni-data');
    await writeFile(join(dirs.cniDir, '10-test.conflist'), conflist(cniDataDir));
    await writeFile(
      dirs.configFile,
      '[runtime]\ndefault_handler = "runc"\n[runtime.handlers.runc]\ntype = "oci"\nruntime_path = "/usr/bin/runc"\n[runtime.handlers.kata]\ntype = "vm"\nqemu_path = "/nonexistent/qemu"\n',
    );
    daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--log-level', 'debug']);
    client = criClient(dirs.socket);
  });

  afterAll(async () => {
    // Pods a failed test left behind still hold mounts; remove them before the scratch dir goes.
    const left = await unary(client, RuntimeServiceService.listPodSandbox, { filter: undefined }).catch(() => ({ items: [] }));
    for (const pod of left.items) await remove(pod.id).catch(() => undefined);
    client?.close();
    await daemon?.stop();
    await run('ip', ['link', 'delete', BRIDGE]).catch(() => undefined);
    if (dirs) await removeDirs(dirs);
  });

  test('a pod runs with an IP on the bridge, its hostname, and is listed and inspected', async () => {
    const id = await runPod(podConfig('web'));
    const { status, info } = await podStatus(id, true);
    expect(status).toMatchObject<Partial<PodSandboxStatus>>({ id, state: PodSandboxState.SANDBOX_READY, runtimeHandler: 'runc' });
    expect(status?.network?.ip).toMatch(new RegExp(`^${SUBNET_PREFIX.replace(/\./g, '\\.')}\\d+$`));
    expect(status?.createdAt).toBeGreaterThan(1_700_000_000_000_000_000n);
    const details = JSON.parse(info.info) as { namespaces: { network: string; uts: string } };
    expect(await output('nsenter', [`--uts=${details.namespaces.uts}`, 'hostname'])).toBe('web\n');
    expect(await output('nsenter', [`--net=${details.namespaces.network}`, 'ip', '-o', 'addr', 'show', 'eth0'])).toContain(status?.network?.ip);

    const byPrefix = await unary(client, RuntimeServiceService.listPodSandbox, { filter: { id: id.slice(0, 10), state: undefined, labelSelector: {} } });
    expect(byPrefix.items.map((pod) => pod.id)).toEqual([id]);
    const byLabel = await unary(client, RuntimeServiceService.listPodSandbox, { filter: { id: '', state: undefined, labelSelector: { app: 'web', suite: suffix } } });
    expect(byLabel.items.map((pod) => pod.id)).toEqual([id]);
    expect((await podStatus(id.slice(0, 8))).status?.id).toBe(id);
    await remove(id);
  });

  test('a pod that names no hostname gets the node\'s', async () => {
    const id = await runPod(podConfig('nameless', { hostname: '' }));
    const details = JSON.parse((await podStatus(id, true)).info.info) as { namespaces: { uts: string } };
    expect(await output('nsenter', [`--uts=${details.namespaces.uts}`, 'hostname'])).toBe(`${hostname()}\n`);
    await remove(id);
  });

  test('two pods reach each other by IP', async () => {
    const a = await runPod(podConfig('ping-a'));
    const b = await runPod(podConfig('ping-b'));
    const aInfo = JSON.parse((await podStatus(a, true)).info.info) as { namespaces: { network: string } };
    const bIp = (await podStatus(b)).status?.network?.ip ?? '';
    await expect(output('nsenter', [`--net=${aInfo.namespaces.network}`, 'busybox', 'ping', '-c', '1', '-W', '3', bIp])).resolves.toContain('1 packets received');
    await remove(a);
    await remove(b);
  });

  test('stop and remove are idempotent, and removal leaves nothing of the pod behind', async () => {
    const bridgePorts = await vethCount();
    const id = await runPod(podConfig('tidy', { portMappings: [{ protocol: Protocol.TCP, containerPort: 80, hostPort: 0, hostIp: '' }] }));
    expect(await traces(id)).toEqual(expect.arrayContaining([`netns podvisor-${id.slice(0, 16)}`, 'pod files']));
    expect(await vethCount()).toBe(bridgePorts + 1);
    await stop(id);
    await stop(id);
    expect((await podStatus(id)).status).toMatchObject({ state: PodSandboxState.SANDBOX_NOTREADY, network: { ip: '', additionalIps: [] } });
    expect(await vethCount()).toBe(bridgePorts);
    await remove(id);
    await remove(id);
    await stop(id);
    expect(await traces(id)).toEqual([]);
    expect((await grpcFailure(podStatus(id))).code).toBe(Code.NOT_FOUND);
    // The name is free again.
    await remove(await runPod(podConfig('tidy')));
  });

  test('a host port is held while the pod runs and released when it stops', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const id = await runPod(podConfig('ports', { portMappings: [{ protocol: Protocol.TCP, containerPort: 8080, hostPort: port, hostIp: '' }] }));
    const bind = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const server = createServer().once('error', reject);
        server.listen(port, '0.0.0.0', () => server.close(() => resolve()));
      });
    await expect(bind()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const second = await grpcFailure(runPod(podConfig('ports-2', { portMappings: [{ protocol: Protocol.TCP, containerPort: 80, hostPort: port, hostIp: '' }] })));
    expect(second.details).toContain(String(port));
    expect(await traces(id)).not.toEqual([]);
    await stop(id);
    await expect(bind()).resolves.toBeUndefined();
    await remove(id);
  });

  test('a hostNetwork pod gets no network namespace of its own', async () => {
    const id = await runPod(
      podConfig('hostnet', {
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD } } },
      }),
    );
    const { status, info } = await podStatus(id, true);
    expect(status?.linux?.namespaces?.options?.network).toBe(NamespaceMode.NODE);
    expect((JSON.parse(info.info) as { namespaces: { network?: string } }).namespaces.network).toBeUndefined();
    expect(await traces(id)).not.toContain(`netns podvisor-${id.slice(0, 16)}`);
    await remove(id);
  });

  test('a pod-wide PID namespace gets an infra process, which stops with the pod', async () => {
    const id = await runPod(
      podConfig('sharedpid', {
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.POD, ipc: NamespaceMode.POD } } },
      }),
    );
    const pid = (JSON.parse((await podStatus(id, true)).info.info) as { handlerState: { infra: { pid: number } } }).handlerState.infra.pid;
    expect(pid).toBeGreaterThan(1);
    expect(await readFile(`/proc/${pid}/status`, 'utf8')).toMatch(/NSpid:\s+\d+\s+1\n/);
    await stop(id);
    // Gone, or a zombie until whoever adopted it reaps it: either way no longer running.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    expect(stat === '' || /\) Z /.test(stat)).toBe(true);
    await remove(id);
  });

  test('bad requests are refused by name and leave nothing: missing metadata, a taken name, an unknown or unusable handler, a bad sysctl', async () => {
    const noUid = podConfig('bad');
    if (noUid.metadata) noUid.metadata.uid = '';
    const missing = await grpcFailure(runPod(noUid));
    expect([missing.code, missing.details]).toEqual([Code.INVALID_ARGUMENT, 'RunPodSandbox: config.metadata.uid is empty']);

    const first = await runPod(podConfig('dup'));
    const dup = await grpcFailure(runPod(podConfig('dup')));
    expect(dup.code).toBe(Code.ALREADY_EXISTS);
    expect(dup.details).toContain(first);
    await remove(first);

    const unknown = await grpcFailure(runPod(podConfig('h1'), 'gvisor'));
    expect([unknown.code, unknown.details]).toEqual([Code.INVALID_ARGUMENT, 'runtime handler "gvisor" is not configured (configured: runc, kata)']);

    const before = (await netnsNames()).length;
    const vm = await grpcFailure(runPod(podConfig('h2'), 'kata'));
    expect(vm.code).toBe(Code.FAILED_PRECONDITION);
    expect((await netnsNames()).length).toBe(before);

    const sysctl = await grpcFailure(runPod(podConfig('h3', { linux: { sysctls: { 'vm.swappiness': '10' } } })));
    expect(sysctl.code).toBe(Code.INVALID_ARGUMENT);
    expect(sysctl.details).toContain('vm.swappiness');
    expect((await unary(client, RuntimeServiceService.listPodSandbox, { filter: undefined })).items.filter((pod) => pod.metadata?.name.startsWith('h'))).toEqual([]);
  });

  test('a failing CNI plugin fails the pod with its message and leaves nothing; the name can be used again', async () => {
    const file = join(dirs.cniDir, '10-test.conflist');
    await writeFile(file, conflist(cniDataDir, { type: 'podvisor-no-such-plugin' }));
    const bridgePorts = await vethCount();
    const netnsBefore = await netnsNames();
    const handlerBefore = await handlerTraces();
    try {
      const error = await grpcFailure(runPod(podConfig('cnifail')));
      expect(error.details).toContain('podvisor-no-such-plugin');
      expect(await vethCount()).toBe(bridgePorts);
      expect(await netnsNames()).toEqual(netnsBefore);
      // The handler's part is made while CNI ADD runs: it goes too.
      expect(await handlerTraces()).toEqual(handlerBefore);
    } finally {
      await writeFile(file, conflist(cniDataDir));
    }
    await remove(await runPod(podConfig('cnifail')));
  });

  test('pods survive a daemon restart with their namespaces and IPs', async () => {
    const id = await runPod(podConfig('durable'));
    const ip = (await podStatus(id)).status?.network?.ip;
    client.close();
    await daemon.stop();
    daemon = await DaemonProcess.serving(isolatingFlags(dirs));
    client = criClient(dirs.socket);
    const { status } = await podStatus(id);
    expect(status).toMatchObject({ state: PodSandboxState.SANDBOX_READY, network: { ip } });
    expect(await output('ip', ['netns', 'list'])).toContain(`podvisor-${id.slice(0, 16)}`);
    await remove(id);
    expect(await traces(id)).toEqual([]);
  });

  test('twenty pods run and removed leave nothing behind', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await runPod(podConfig(`bulk-${i}`)));
    for (const id of ids) {
      await stop(id);
      await remove(id);
    }
    for (const id of ids) expect(await traces(id)).toEqual([]);
    expect(await vethCount()).toBe(0);
  });
});
