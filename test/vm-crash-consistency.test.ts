// The crash-consistency rule for VM pods: podvisord killed (SIGKILL) while VM pods boot, their
// containers are made and other VM pods are removed, at moments spread over a VM's boot; the
// daemon comes back and serves, running VMs are taken back, and once every pod is removed
// through the CRI nothing is left on the host: no QEMU, TAP (with its network namespace),
// mount, socket, directory, cgroup or record.
import type { Client } from '@grpc/grpc-js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerConfig, PodSandboxConfig, RuntimeServiceService } from '../proto/gen/cri-api-v1';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { ContainerDaemon } from './support/container-daemon';
import { auditNetwork, countByKind, describeLeftover, findLeftovers, removeLeftovers, type AuditNetwork, type AuditTarget } from './support/host-audit';

const SUBNET = '10.219.28.0/24';
// After the round's calls begin: before QEMU starts, while the guest boots, while the agent
// makes the sandbox and the container, and once the pods run.
const KILL_AFTER_MS = [150, 1_500, 4_000, 9_000, 30_000];
const PODS_PER_ROUND = 2;
const CALL_DEADLINE_MS = 120_000;
const SETTLE_MS = 15_000;
const LONG_TEST_MS = 600_000;

describe('a daemon killed amid VM pod creations and removals', () => {
  let fixture: ContainerDaemon;
  let network: AuditNetwork;
  const podIds = new Set<string>();
  const containerIds = new Set<string>();
  const pastLogs: string[] = [];

  const auditTarget = (): AuditTarget => ({
    dirs: fixture.dirs,
    network,
    podIds,
    containerIds,
    logs: [...pastLogs, fixture.daemon.log],
    ignorePids: [fixture.daemon.child.pid],
  });

  async function startPod(client: Client, name: string): Promise<void> {
    const config = PodSandboxConfig.fromPartial({ metadata: { name, namespace: 'vm-crash', uid: `uid-${name}` }, hostname: name, logDirectory: join(fixture.dirs.dir, 'logs', name) });
    const { podSandboxId } = await unary(client, RuntimeServiceService.runPodSandbox, { config, runtimeHandler: 'vm' }, CALL_DEADLINE_MS);
    podIds.add(podSandboxId);
    const container = ContainerConfig.fromPartial({ metadata: { name: 'sleeper' }, image: { image: fixture.image }, command: ['sleep', '3600'], logPath: 'sleeper.log' });
    const { containerId } = await unary(client, RuntimeServiceService.createContainer, { podSandboxId, config: container, sandboxConfig: config }, CALL_DEADLINE_MS);
    containerIds.add(containerId);
    await unary(client, RuntimeServiceService.startContainer, { containerId }, CALL_DEADLINE_MS);
  }

  async function listPods(): Promise<string[]> {
    const ids = await fixture.podIds();
    for (const id of ids) podIds.add(id);
    return ids;
  }

  beforeAll(async () => {
    fixture = await ContainerDaemon.start(SUBNET);
    network = await auditNetwork(fixture.dirs);
  }, LONG_TEST_MS);

  afterAll(async () => {
    if (!fixture) return;
    for (const id of await listPods().catch(() => [])) await fixture.stopAndRemovePod(id, CALL_DEADLINE_MS).catch(() => undefined);
    const target = auditTarget();
    await fixture.daemon.stop().catch(() => undefined);
    await removeLeftovers({ ...target, ignorePids: [] }).catch(() => undefined);
    await fixture.close();
  }, LONG_TEST_MS);

  test(
    'the daemon serves again after each kill, and removing every pod then leaves nothing on the host',
    async () => {
      const rounds: string[] = [];
      for (const [round, delayMs] of KILL_AFTER_MS.entries()) {
        const client = fixture.client;
        const removals = (await listPods()).slice(0, 1);
        const work = [...Array.from({ length: PODS_PER_ROUND }, (_, i) => startPod(client, `vm-crash-${round}-${i}`)), ...removals.map((id) => fixture.stopAndRemovePod(id, CALL_DEADLINE_MS))];
        await sleep(delayMs);
        const killed = fixture.daemon;
        await killed.stop('SIGKILL');
        pastLogs.push(killed.log);
        const outcomes = await Promise.allSettled(work);
        await fixture.restart(0, 'SIGKILL');
        expect((await unary(fixture.client, RuntimeServiceService.version, { version: '' })).runtimeName).toBe('podvisor');
        const started = outcomes.slice(0, PODS_PER_ROUND).filter((outcome) => outcome.status === 'fulfilled').length;
        rounds.push(`round ${round} (kill after ${delayMs} ms): ${started}/${PODS_PER_ROUND} pods started, ${(await listPods()).length} pods listed after restart`);
      }

      // While VM pods run, the audit must see their parts: it would pass an empty host otherwise.
      const running = await listPods();
      console.log(rounds.join('\n'));
      expect(running.length).toBeGreaterThan(0);
      const live = (await findLeftovers(auditTarget())).map(describeLeftover).join('\n');
      expect(live).toMatch(/process: pid \d+ \S*qemu-system-x86_64/);
      expect(live).toContain('(VM socket)');
      expect(live).toContain('(handler pod files)');

      for (const id of running) await fixture.stopAndRemovePod(id, CALL_DEADLINE_MS);
      expect(await listPods()).toEqual([]);
      await waitUntil(async () => (await findLeftovers(auditTarget())).length === 0, SETTLE_MS, 500);
      const leftovers = await findLeftovers(auditTarget());
      if (leftovers.length > 0) console.log(`leftovers by kind: ${JSON.stringify(countByKind(leftovers))}`);
      expect(leftovers.map(describeLeftover)).toEqual([]);
    },
    LONG_TEST_MS,
  );
});
