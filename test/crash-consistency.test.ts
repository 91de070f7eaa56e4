// Fault injection: podvisord killed (SIGKILL) while pods are being created and removed, again
// and again at different moments, then every pod removed through the CRI. A daemon that comes
// back must serve, and once no pod exists nothing of any pod may be left on the host: no network
// namespace, mount, cgroup, process, veth, IP lease, iptables rule or state directory.
import type { Client } from '@grpc/grpc-js';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerConfig, NamespaceMode, PodSandboxConfig, Protocol, RuntimeServiceService } from '../proto/gen/cri-api-v1';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { ContainerDaemon } from './support/container-daemon';
import { auditNetwork, countByKind, describeLeftover, findLeftovers, hostAudit, netnsName, removeLeftovers, type AuditNetwork, type AuditTarget } from './support/host-audit';
import { freePort } from './support/net-tools';

const SUBNET = '10.219.25.0/24';
// When the daemon is killed after a round's creations and removals begin, as parts of the time
// the control test took to start as many pods at once (~2.8 s here: kills at 0, 55, 170, 420, 840,
// 1250, 1700, 2200, 2800 and 3600 ms): before the first call arrives, amid RunPodSandbox (the
// first half here), CreateContainer and StartContainer, and once all of them are done.
const KILL_AT = [0, 0.02, 0.06, 0.15, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3];
// The span when the control test did not run (a -t filter).
const DEFAULT_START_ALL_MS = 2500;
const PODS_PER_ROUND = 10;
const REMOVALS_PER_ROUND = 3;
// Ten pods made at once on a small machine; a call that takes this long is stuck, not slow.
const CALL_DEADLINE_MS = 60_000;
// How long leftovers may take to go once every pod is removed.
const SETTLE_MS = 10_000;
// Never a statement about speed: only room for a loaded machine. The file takes ~45 s here while leftovers are found (SETTLE_MS of it waiting for them to go).
const LONG_TEST_MS = 300_000;

interface PodShape {
  /** A pod-wide PID namespace, which gives the pod an infra (pause) process. */
  pidPod: boolean;
  /** A host port published through the portmap plugin, held by the daemon. */
  hostPort?: number;
}

describe('a daemon killed amid pod creations and removals', () => {
  let fixture: ContainerDaemon | undefined;
  let network: AuditNetwork;
  const podIds = new Set<string>();
  const containerIds = new Set<string>();
  // The output of each daemon run that a restart replaced: the audit takes pod IDs from it.
  const pastLogs: string[] = [];
  const usedPorts = new Set<number>();
  // How long the control test took to start its pods all at once: what the kill delays spread over.
  let startAllMs: number | undefined;

  const running = (): ContainerDaemon => {
    if (!fixture) throw new Error('no daemon');
    return fixture;
  };
  const auditTarget = (): AuditTarget => ({
    dirs: running().dirs,
    network,
    podIds,
    containerIds,
    logs: [...pastLogs, running().daemon.log],
    ignorePids: [running().daemon.child.pid],
  });

  async function hostPort(): Promise<number> {
    for (;;) {
      const port = await freePort();
      if (!usedPorts.has(port)) {
        usedPorts.add(port);
        return port;
      }
    }
  }

  function podConfig(name: string, shape: PodShape): PodSandboxConfig {
    return PodSandboxConfig.fromPartial({
      metadata: { name, namespace: 'crash', uid: `uid-${name}`, attempt: 0 },
      hostname: name,
      logDirectory: join(running().dirs.dir, 'logs', name),
      portMappings: shape.hostPort === undefined ? [] : [{ protocol: Protocol.TCP, containerPort: 80, hostPort: shape.hostPort, hostIp: '' }],
      linux: shape.pidPod ? { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.POD, ipc: NamespaceMode.POD } } } : undefined,
    });
  }

  /** RunPodSandbox, CreateContainer (busybox sleeping), StartContainer; resolves with the pod ID. */
  async function startPod(client: Client, name: string, shape: PodShape): Promise<string> {
    const config = podConfig(name, shape);
    const { podSandboxId } = await unary(client, RuntimeServiceService.runPodSandbox, { config, runtimeHandler: '' }, CALL_DEADLINE_MS);
    podIds.add(podSandboxId);
    const container = ContainerConfig.fromPartial({ metadata: { name: 'sleeper' }, image: { image: running().image }, command: ['sleep', '3600'], logPath: 'sleeper.log' });
    const { containerId } = await unary(client, RuntimeServiceService.createContainer, { podSandboxId, config: container, sandboxConfig: config }, CALL_DEADLINE_MS);
    containerIds.add(containerId);
    await unary(client, RuntimeServiceService.startContainer, { containerId }, CALL_DEADLINE_MS);
    return podSandboxId;
  }

  async function listPods(): Promise<string[]> {
    const ids = await running().podIds();
    for (const id of ids) podIds.add(id);
    return ids;
  }

  async function listContainers(client: Client): Promise<string[]> {
    const ids = (await unary(client, RuntimeServiceService.listContainers, { filter: undefined })).containers.map((container) => container.id);
    for (const id of ids) containerIds.add(id);
    return ids;
  }

  /** Removes every pod the daemon lists, a few at a time, as a kubelet draining the node would. */
  async function removeAllPods(): Promise<void> {
    const pods = await listPods();
    for (let i = 0; i < pods.length; i += 5) await Promise.all(pods.slice(i, i + 5).map((id) => running().stopAndRemovePod(id, CALL_DEADLINE_MS)));
  }

  beforeAll(async () => {
    fixture = await ContainerDaemon.start(SUBNET, { portmap: true });
    network = await auditNetwork(fixture.dirs);
  });

  afterAll(async () => {
    if (!fixture) return;
    // Through the CRI first, then by hand whatever the daemon does not know of (with it
    // stopped, so nothing is made meanwhile): no other suite may meet our mounts or rules.
    await removeAllPods().catch(() => undefined);
    const target = auditTarget();
    await fixture.daemon.stop().catch(() => undefined);
    const left = await removeLeftovers({ ...target, ignorePids: [] }).catch((error: unknown) => [`cleanup failed: ${String(error)}`]);
    if (left.length > 0) console.warn(`crash-consistency: could not remove everything the daemon left:\n${left.join('\n')}`);
    await fixture.close();
  }, LONG_TEST_MS);

  test('pods removed normally leave nothing, and the audit sees every part of a live pod', async () => {
    const client = running().client;
    const shapes: PodShape[] = [];
    for (let i = 0; i < PODS_PER_ROUND; i++) shapes.push({ pidPod: i < 3, hostPort: i >= 3 && i < 6 ? await hostPort() : undefined });
    const began = Date.now();
    const ids = await Promise.all(shapes.map((shape, i) => startPod(client, `control-${i}`, shape)));
    startAllMs = Date.now() - began;

    // While they run, the audit must find each pod's pieces: it would pass an empty host otherwise.
    const live = await findLeftovers(auditTarget());
    for (const [i, id] of ids.entries()) {
      const own = live.filter((leftover) => leftover.podId === id);
      const kinds = new Set(own.map((leftover) => leftover.kind));
      expect({ pod: i, kinds: [...kinds].sort() }).toEqual({ pod: i, kinds: expect.arrayContaining(['cgroup', 'lease', 'mount', 'netns', 'process', 'state']) });
      expect(own.some((leftover) => leftover.kind === 'netns' && leftover.detail.includes(netnsName(id)))).toBe(true);
      expect(own.some((leftover) => leftover.kind === 'process' && leftover.detail.includes('sleep 3600'))).toBe(true);
      if (shapes[i].pidPod) expect(own.some((leftover) => leftover.kind === 'process' && leftover.detail.includes('pause'))).toBe(true);
      if (shapes[i].hostPort !== undefined) expect(kinds.has('iptables')).toBe(true);
    }
    expect(live.filter((leftover) => leftover.kind === 'veth')).toHaveLength(PODS_PER_ROUND);

    await Promise.all(ids.map((id) => running().stopAndRemovePod(id, CALL_DEADLINE_MS)));
    expect(await listPods()).toEqual([]);
    expect(await listContainers(client)).toEqual([]);
    expect(await hostAudit(auditTarget())).toEqual([]);
  }, LONG_TEST_MS);

  test('a daemon killed at any moment serves again, and removing every pod then leaves nothing on the host', async () => {
    const rounds: string[] = [];
    const delays = KILL_AT.map((part) => Math.round(part * (startAllMs ?? DEFAULT_START_ALL_MS)));
    for (const [round, delayMs] of delays.entries()) {
      const daemon = running();
      const client = daemon.client;
      // Some pods of earlier rounds go while the new ones are made.
      const removals = (await listPods()).slice(0, REMOVALS_PER_ROUND);
      const shapes: PodShape[] = [];
      for (let i = 0; i < PODS_PER_ROUND; i++) {
        shapes.push({ pidPod: round % 2 === 1 && i < 3, hostPort: round % 3 !== 0 && i >= 3 && i < 5 ? await hostPort() : undefined });
      }
      const work = [...shapes.map((shape, i) => startPod(client, `crash-${round}-${i}`, shape)), ...removals.map((id) => running().stopAndRemovePod(id, CALL_DEADLINE_MS))];

      await sleep(delayMs);
      const killed = daemon.daemon;
      await killed.stop('SIGKILL');
      pastLogs.push(killed.log);
      // The calls in flight fail now; which ones finished is the point of the round, not its result.
      const outcomes = await Promise.allSettled(work);
      await daemon.restart(0, 'SIGKILL');

      expect((await unary(daemon.client, RuntimeServiceService.version, { version: '' })).runtimeName).toBe('podvisor');
      const listed = await listPods();
      const containers = await listContainers(daemon.client);
      const done = outcomes.slice(0, PODS_PER_ROUND).filter((outcome) => outcome.status === 'fulfilled').length;
      const removed = outcomes.slice(PODS_PER_ROUND).filter((outcome) => outcome.status === 'fulfilled').length;
      rounds.push(`round ${round} (kill after ${delayMs} ms): ${done}/${PODS_PER_ROUND} pods started, ${removed}/${removals.length} removed, ${listed.length} pods and ${containers.length} containers listed after restart`);
    }

    const client = running().client;
    await removeAllPods();
    expect(await listPods()).toEqual([]);
    expect(await listContainers(client)).toEqual([]);

    // A daemon may finish what a crash cut short in the background after it restarted: it gets a
    // while for that, and only what is still there then counts.
    await waitUntil(async () => (await findLeftovers(auditTarget())).length === 0, SETTLE_MS, 500);
    const leftovers = await findLeftovers(auditTarget());
    if (leftovers.length > 0) {
      console.log(`${rounds.join('\n')}\nleftovers by kind: ${JSON.stringify(countByKind(leftovers))}\n${leftovers.map(describeLeftover).join('\n')}`);
    }
    expect(leftovers.map(describeLeftover)).toEqual([]);
  }, LONG_TEST_MS);

  test('a daemon killed once RemoveContainer answered, before the containers were taken apart, finishes that at its start and keeps their logs', async () => {
    const daemon = running();
    const name = 'removed-then-killed';
    const config = podConfig(name, { pidPod: false });
    const { podSandboxId } = await unary(daemon.client, RuntimeServiceService.runPodSandbox, { config, runtimeHandler: '' }, CALL_DEADLINE_MS);
    podIds.add(podSandboxId);
    const names = ['one', 'two', 'three', 'four', 'five'];
    const ids = await Promise.all(names.map((container) => daemon.createContainer(podSandboxId, container, ['sleep', '3600'])));
    for (const id of ids) containerIds.add(id);
    await Promise.all(ids.map((containerId) => unary(daemon.client, RuntimeServiceService.startContainer, { containerId }, CALL_DEADLINE_MS)));
    const theirs = async (): Promise<string[]> => (await findLeftovers(auditTarget())).filter((leftover) => ids.some((id) => leftover.detail.includes(id))).map(describeLeftover);

    await Promise.all(ids.map((containerId) => unary(daemon.client, RuntimeServiceService.removeContainer, { containerId }, CALL_DEADLINE_MS)));
    let leftAtKill: string[] = [];
    await daemon.restart(0, 'SIGKILL', async () => {
      pastLogs.push(daemon.daemon.log);
      leftAtKill = await theirs();
    });

    // Killed in the window this is about: the answers came before the parts were gone.
    expect(leftAtKill).not.toEqual([]);
    expect(await listContainers(daemon.client)).toEqual([]);
    expect(await theirs()).toEqual([]);
    for (const container of names) await expect(stat(join(config.logDirectory, `${container}.log`))).resolves.toBeDefined();
    await daemon.stopAndRemovePod(podSandboxId, CALL_DEADLINE_MS);
    expect(await hostAudit(auditTarget())).toEqual([]);
  }, LONG_TEST_MS);
});
