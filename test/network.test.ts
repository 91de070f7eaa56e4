import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { HostPortHolder } from '../network/host-ports';
import { type PodNamespaces, pinPodNamespaces, releasePodNamespaces } from '../network/namespaces';
import { type PodNetworkAttachment, type PodNetworkRequest, type PortMapping, NetworkManager } from '../network/network-manager';
import { newId } from '../system/ids';
import { DeadlineExceededError, FailedPreconditionError, InternalError } from '../system/errors';
import { createLogger } from '../system/logger';
import { bridgePorts, command, freePort, inNetns, iptablesLinesWith, leasesOf, netnsNames } from './support/net-tools';

const logger = createLogger('error', 'text', new PassThrough());
const SHIPPED_CONFLIST = join(__dirname, '..', '..', 'conf', 'cni', '10-podvisor.conflist');

interface Pod {
  request: PodNetworkRequest;
  namespaces: PodNamespaces;
  attachment?: PodNetworkAttachment;
}

function podRequest(netns: string, portMappings: PortMapping[] = []): PodNetworkRequest {
  const podId = newId();
  return { podId, name: `pod-${podId.slice(0, 6)}`, namespace: 'default', uid: newId().slice(0, 32), netns, portMappings };
}

/** Fetches a URL's body, or undefined if nothing answers yet. */
function fetchText(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const request = get(url, { timeout: 1000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
      response.on('error', () => resolve(undefined));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}

async function fetchWithRetry(url: string, deadlineMs: number): Promise<string | undefined> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const body = await fetchText(url);
    if (body !== undefined) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

describe('pod network over real CNI plugins', () => {
  // Names unique to this run, so nothing here touches another run's or the node's network.
  const runId = randomBytes(3).toString('hex');
  const bridge = `pvt${runId}`;
  const network = `podvisor-test-${runId}`;
  const subnetPrefix = `10.213.${randomInt(0, 256)}`;
  let dir: string;
  let configDir: string;
  let dataDir: string;
  let manager: NetworkManager;
  const pods: Pod[] = [];
  const holder = new HostPortHolder();

  /** The shipped default network, moved onto this run's bridge, subnet and lease directory. */
  async function testConflist(extraPlugins: object[] = []): Promise<string> {
    const shipped = JSON.parse(await readFile(SHIPPED_CONFLIST, 'utf8')) as { plugins: Array<Record<string, unknown>> };
    const [bridgePlugin, ...rest] = shipped.plugins;
    const ipam = { type: 'host-local', ranges: [[{ subnet: `${subnetPrefix}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }], dataDir };
    const plugins = [{ ...bridgePlugin, bridge, ipam }, ...rest, ...extraPlugins];
    return JSON.stringify({ ...shipped, name: network, plugins });
  }

  async function managerFor(conflist: string): Promise<NetworkManager> {
    const dir = await mkdtemp(join(configDir, 'variant-'));
    await writeFile(join(dir, '10-test.conflist'), conflist);
    return new NetworkManager({ configDir: dir, pluginDirs: ['/usr/lib/cni'], defaultNetwork: network, logger });
  }

  async function newPod(portMappings: PortMapping[] = []): Promise<Pod> {
    const namespaces = await pinPodNamespaces({ podId: newId(), runroot: dir, network: true, ipc: false, uts: false, hostname: '', sysctls: {} });
    const pod: Pod = { request: podRequest(namespaces.network ?? '', portMappings), namespaces };
    pods.push(pod);
    return pod;
  }

  async function attachedPod(portMappings: PortMapping[] = []): Promise<Pod> {
    const pod = await newPod(portMappings);
    pod.attachment = await manager.attach(pod.request);
    return pod;
  }

  /** Everything of a pod still on the host: netns, veth, iptables lines, IP lease. */
  async function remnants(pod: Pod, ip?: string): Promise<string[]> {
    const found: string[] = [];
    const netns = pod.request.netns.split('/').pop() ?? '';
    if ((await netnsNames()).includes(netns)) found.push(`netns ${netns}`);
    found.push(...(await iptablesLinesWith(pod.request.podId)).map((line) => `iptables ${line}`));
    if (ip !== undefined) found.push(...(await iptablesLinesWith(`${ip}/32`)).map((line) => `iptables ${line}`));
    found.push(...(await leasesOf(dataDir, network, pod.request.podId)).map((lease) => `lease ${lease}`));
    return found;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-net-'));
    configDir = join(dir, 'cni');
    dataDir = join(dir, 'ipam');
    await mkdir(configDir);
    manager = await managerFor(await testConflist());
  });

  afterAll(async () => {
    for (const pod of pods) {
      await holder.release(pod.request.podId);
      if (pod.attachment) await manager.detach(pod.request, pod.attachment);
      await releasePodNamespaces(pod.namespaces);
    }
    await command('ip', ['link', 'delete', bridge]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  test('two pods get addresses on the network and reach each other', async () => {
    const [a, b] = [await attachedPod(), await attachedPod()];
    const ipA = a.attachment?.ips[0] ?? '';
    const ipB = b.attachment?.ips[0] ?? '';
    expect(ipA.startsWith(`${subnetPrefix}.`)).toBe(true);
    expect(ipB.startsWith(`${subnetPrefix}.`)).toBe(true);
    expect(ipA).not.toBe(ipB);
    expect(await inNetns(a.request.netns, ['busybox', 'ping', '-c1', '-W2', ipB])).toContain('1 packets received');
    expect(await inNetns(b.request.netns, ['busybox', 'ping', '-c1', '-W2', ipA])).toContain('1 packets received');
  });

  test('a host port reaches the listener inside the pod, from the host, while the daemon holds it', async () => {
    const hostPort = await freePort();
    const mappings: PortMapping[] = [{ protocol: 'tcp', containerPort: 8080, hostPort, hostIp: '' }];
    const pod = await attachedPod(mappings);
    await holder.hold(pod.request.podId, mappings);
    const site = join(dir, `site-${runId}`);
    await mkdir(site);
    await writeFile(join(site, 'index.html'), `served from pod ${pod.request.podId}\n`);
    const httpd = spawn('nsenter', [`--net=${pod.request.netns}`, '--', 'busybox', 'httpd', '-f', '-p', '8080', '-h', site], { stdio: 'ignore' });
    try {
      const body = await fetchWithRetry(`http://127.0.0.1:${hostPort}/`, 5000);
      expect(body).toBe(`served from pod ${pod.request.podId}\n`);
    } finally {
      httpd.kill('SIGKILL');
    }
  });

  test('a failing plugin after the bridge is reported with its message, and nothing of the pod is left', async () => {
    const before = await bridgePorts(bridge);
    const hostPort = await freePort();
    const pod = await newPod([{ protocol: 'tcp', containerPort: 80, hostPort, hostIp: '' }]);
    // The bandwidth plugin refuses a rate without a burst, after bridge, portmap and firewall succeeded.
    const attempt = manager.attach({ ...pod.request, bandwidth: { ingressRate: 1000000 } });
    await expect(attempt).rejects.toThrow('CNI plugin bandwidth ADD failed: if rate is set, burst must also be set');
    expect(await bridgePorts(bridge)).toEqual(before);
    expect(await remnants(pod)).toEqual([`netns ${pod.request.netns.split('/').pop()}`]);
    expect(await iptablesLinesWith(`--dport ${hostPort} `)).toEqual([]);
  });

  test('a plugin that does not exist is named, and nothing of the pod is left', async () => {
    const before = await bridgePorts(bridge);
    const broken = await managerFor(await testConflist([{ type: 'podvisor-no-such-plugin' }]));
    const pod = await newPod();
    await expect(broken.attach(pod.request)).rejects.toThrow(new FailedPreconditionError('CNI plugin "podvisor-no-such-plugin" not found in /usr/lib/cni'));
    expect(await bridgePorts(bridge)).toEqual(before);
    await releasePodNamespaces(pod.namespaces);
    expect(await remnants(pod)).toEqual([]);
  });

  test('detach and release leave nothing of the pod, even with the config file gone, and may be repeated', async () => {
    const before = await bridgePorts(bridge);
    const hostPort = await freePort();
    const pod = await attachedPod([{ protocol: 'tcp', containerPort: 80, hostPort, hostIp: '' }]);
    const attachment = pod.attachment;
    if (!attachment) throw new Error('pod not attached');
    const ip = attachment.ips[0];
    expect(await bridgePorts(bridge)).toHaveLength(before.length + 1);
    expect(await remnants(pod, ip)).not.toEqual([]);
    await rm(attachment.configFile);

    // A persisted attachment is read back as plain JSON.
    const saved = JSON.parse(JSON.stringify(attachment)) as PodNetworkAttachment;
    await manager.detach(pod.request, saved);
    await manager.detach(pod.request, saved);
    await releasePodNamespaces(pod.namespaces);
    await manager.detach(pod.request, saved);
    await releasePodNamespaces(pod.namespaces);
    expect(await bridgePorts(bridge)).toEqual(before);
    expect(await remnants(pod, ip)).toEqual([]);
  });

  test('without a network config, attach says what it looked for', async () => {
    const empty = new NetworkManager({ configDir: join(dir, 'none'), pluginDirs: ['/usr/lib/cni'], defaultNetwork: network, logger });
    await expect(empty.attach(podRequest('/nonexistent'))).rejects.toThrow(FailedPreconditionError);
  });
});

// A stand-in plugin: it logs what it was given and answers as its config tells it to.
const RECORDER = `
const { appendFileSync } = require('node:fs');
let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const config = JSON.parse(input);
  const env = {};
  for (const key of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH']) env[key] = process.env[key];
  appendFileSync(config.log, JSON.stringify({ env, config }) + '\\n');
  const command = process.env.CNI_COMMAND;
  if (config.failOn === command) {
    process.stdout.write(JSON.stringify({ cniVersion: config.cniVersion, code: 7, msg: 'refused by the recorder', details: 'as configured' }));
    process.exit(1);
  }
  if (config.hangOn === command) return setTimeout(() => undefined, 60000);
  if (command === 'ADD') process.stdout.write(JSON.stringify(config.result ?? config.prevResult));
});
`;

interface Call {
  env: Record<string, string>;
  config: Record<string, unknown>;
}

describe('the CNI contract with plugins', () => {
  let dir: string;
  let pluginDir: string;
  let log: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-cni-contract-'));
    pluginDir = join(dir, 'bin');
    await mkdir(pluginDir);
    for (const name of ['recorder', 'recorder-2']) {
      await writeFile(join(pluginDir, name), `#!${process.execPath}\n${RECORDER}`);
      await chmod(join(pluginDir, name), 0o755);
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function managerWith(plugins: object[], pluginTimeoutMs?: number): Promise<NetworkManager> {
    const configDir = await mkdtemp(join(dir, 'conf-'));
    log = join(configDir, 'calls.log');
    const withLog = plugins.map((plugin) => ({ ...plugin, log }));
    await writeFile(join(configDir, '10-rec.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'rec', plugins: withLog }));
    return new NetworkManager({ configDir, pluginDirs: ['/nonexistent', pluginDir], defaultNetwork: '', logger, pluginTimeoutMs });
  }

  async function calls(): Promise<Call[]> {
    return (await readFile(log, 'utf8')).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Call);
  }

  const result = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/x' }],
    ips: [{ address: '10.1.2.3/24', interface: 0 }, { address: 'fd00::3/64', interface: 0 }],
  };
  const mapping: PortMapping = { protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' };
  const bandwidth = { ingressRate: 1000, ingressBurst: 100 };

  test('ADD runs the chain in order, DEL in reverse, each call with the environment and config the spec gives', async () => {
    const manager = await managerWith([
      { type: 'recorder', result, capabilities: { portMappings: true } },
      { type: 'recorder-2', capabilities: { bandwidth: true, portMappings: false } },
    ]);
    const request: PodNetworkRequest = { ...podRequest('/var/run/netns/x', [mapping, { ...mapping, hostPort: 0 }]), bandwidth };
    const attachment = await manager.attach(request);
    expect(attachment.ips).toEqual(['10.1.2.3', 'fd00::3']);
    expect(attachment.network).toBe('rec');
    await manager.detach(request, attachment);

    const made = await calls();
    expect(made.map((call) => `${call.env.CNI_COMMAND} ${String(call.config.type)}`)).toEqual(['ADD recorder', 'ADD recorder-2', 'DEL recorder-2', 'DEL recorder']);
    for (const call of made) {
      expect(call.env).toEqual({
        CNI_COMMAND: call.env.CNI_COMMAND,
        CNI_CONTAINERID: request.podId,
        CNI_NETNS: '/var/run/netns/x',
        CNI_IFNAME: 'eth0',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${request.name};K8S_POD_INFRA_CONTAINER_ID=${request.podId};K8S_POD_UID=${request.uid}`,
        CNI_PATH: `/nonexistent:${pluginDir}`,
      });
      expect(call.config).toMatchObject({ name: 'rec', cniVersion: '1.0.0' });
    }
    const [addFirst, addSecond, delSecond, delFirst] = made;
    expect(addFirst.config.runtimeConfig).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] });
    expect(addFirst.config.prevResult).toBeUndefined();
    expect(addSecond.config.runtimeConfig).toEqual({ bandwidth });
    expect(addSecond.config.prevResult).toEqual(result);
    expect(delSecond.config.prevResult).toEqual(result);
    expect(delFirst.config.prevResult).toEqual(result);
  });

  test("a plugin's error reply is thrown with its message and details, after the chain is undone", async () => {
    const manager = await managerWith([{ type: 'recorder', result }, { type: 'recorder-2', failOn: 'ADD' }]);
    await expect(manager.attach(podRequest('/var/run/netns/x'))).rejects.toThrow(
      new FailedPreconditionError('CNI plugin recorder-2 ADD failed: refused by the recorder (as configured)'),
    );
    expect((await calls()).map((call) => `${call.env.CNI_COMMAND} ${String(call.config.type)}`)).toEqual(['ADD recorder', 'ADD recorder-2', 'DEL recorder-2', 'DEL recorder']);
  });

  test('a DEL that fails does not stop the rest of the chain, and detach reports it', async () => {
    const manager = await managerWith([{ type: 'recorder', result }, { type: 'recorder-2', failOn: 'DEL' }]);
    const request = podRequest('/var/run/netns/x');
    const attachment = await manager.attach(request);
    await expect(manager.detach(request, attachment)).rejects.toThrow('CNI plugin recorder-2 DEL failed: refused by the recorder');
    expect((await calls()).map((call) => `${call.env.CNI_COMMAND} ${String(call.config.type)}`)).toContain('DEL recorder');
  });

  test('a plugin that hangs is killed at the timeout', async () => {
    const manager = await managerWith([{ type: 'recorder', hangOn: 'ADD' }], 500);
    const started = Date.now();
    await expect(manager.attach(podRequest('/var/run/netns/x'))).rejects.toThrow(DeadlineExceededError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('a saved attachment that is not a config list is refused', async () => {
    const manager = await managerWith([{ type: 'recorder', result }]);
    const request = podRequest('/var/run/netns/x');
    const attachment = { network: 'rec', configFile: '', config: { name: 'rec' }, ips: [], result };
    await expect(manager.detach(request, attachment)).rejects.toThrow(InternalError);
  });
});
