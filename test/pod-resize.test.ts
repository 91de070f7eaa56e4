// UpdatePodSandboxResources (pod-level resize) through the CRI socket: a runc pod's cgroup takes
// the pod's new limits, its containers' total plus overhead, as the node shows them; a VM pod's
// VM grows to the new size and gives it back; bad values and unknown pods are refused.
import { status as Code } from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ContainerState, LinuxContainerResources, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { CGROUP_ROOT, cgroupVersion } from '../oci/cgroups/cgroup-hierarchies';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';

const BOOT_MS = 180_000;
const MIB = 1024n * 1024n;

type Resources = Parameters<typeof LinuxContainerResources.fromPartial>[0];

describe('UpdatePodSandboxResources', () => {
  let daemon: ContainerDaemon;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.52.0/24');
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  const resize = (podSandboxId: string, resources: Resources | undefined, overhead?: Resources): Promise<unknown> =>
    unary(daemon.client, Runtime.updatePodSandboxResources, {
      podSandboxId,
      resources: resources && LinuxContainerResources.fromPartial(resources),
      overhead: overhead && LinuxContainerResources.fromPartial(overhead),
    });

  /** The memory limit and CPU quota of a pod's own cgroup (podvisor's, as no cgroup parent is given), as the node shows them. */
  async function podCgroupLimits(podId: string): Promise<{ memory: string; cpu: string }> {
    const path = `podvisor/pod-${podId}`;
    const read = async (file: string): Promise<string> => (await readFile(join(CGROUP_ROOT, file), 'utf8')).trim();
    if ((await cgroupVersion()) === 'v2') return { memory: await read(join(path, 'memory.max')), cpu: (await read(join(path, 'cpu.max'))).split(' ')[0] };
    return { memory: await read(join('memory', path, 'memory.limit_in_bytes')), cpu: await read(join('cpu', path, 'cpu.cfs_quota_us')) };
  }

  test("a runc pod's cgroup takes the new limits, its containers' total plus the overhead, while its container runs on", async () => {
    const podId = await daemon.runPod('resize-runc', 'runc');
    const app = await daemon.createContainer(podId, 'app', ['sleep', '600']);
    await unary(daemon.client, Runtime.startContainer, { containerId: app });
    await resize(podId, { cpuPeriod: 100_000n, cpuQuota: 50_000n, memoryLimitInBytes: 256n * MIB }, { cpuPeriod: 100_000n, cpuQuota: 10_000n, memoryLimitInBytes: 32n * MIB });
    expect(await podCgroupLimits(podId)).toEqual({ memory: String(288n * MIB), cpu: '60000' });
    // Grown again: the limits follow, and the pod still runs its container.
    await resize(podId, { cpuPeriod: 100_000n, cpuQuota: 150_000n, memoryLimitInBytes: 512n * MIB });
    expect(await podCgroupLimits(podId)).toEqual({ memory: String(512n * MIB), cpu: '150000' });
    expect((await daemon.status(app)).state).toBe(ContainerState.CONTAINER_RUNNING);
    await daemon.stopAndRemovePod(podId);
  });

  test('bad values are refused with INVALID_ARGUMENT naming them, an unknown pod with NOT_FOUND, a stopped one with FAILED_PRECONDITION', async () => {
    const podId = await daemon.runPod('resize-refused', 'runc');
    const tinyQuota = await grpcFailure(resize(podId, { cpuPeriod: 100_000n, cpuQuota: 5n }));
    expect(tinyQuota.code).toBe(Code.INVALID_ARGUMENT);
    expect(tinyQuota.details).toContain('resources.cpu_quota');
    const tinyMemory = await grpcFailure(resize(podId, { memoryLimitInBytes: 1024n }, undefined));
    expect(tinyMemory.code).toBe(Code.INVALID_ARGUMENT);
    expect(tinyMemory.details).toContain('resources.memory_limit_in_bytes');
    const badOverhead = await grpcFailure(resize(podId, { memoryLimitInBytes: 64n * MIB }, { cpusetCpus: 'all' }));
    expect(badOverhead.code).toBe(Code.INVALID_ARGUMENT);
    expect(badOverhead.details).toContain('overhead.cpuset_cpus');
    expect((await grpcFailure(resize(podId, undefined))).code).toBe(Code.INVALID_ARGUMENT);
    expect((await grpcFailure(resize('f'.repeat(64), { memoryLimitInBytes: 64n * MIB }))).code).toBe(Code.NOT_FOUND);
    // Nothing of the refused values reached the pod's cgroup.
    expect(['-1', 'max']).toContain((await podCgroupLimits(podId)).cpu);
    await unary(daemon.client, Runtime.stopPodSandbox, { podSandboxId: podId });
    expect((await grpcFailure(resize(podId, { memoryLimitInBytes: 64n * MIB }))).code).toBe(Code.FAILED_PRECONDITION);
    await unary(daemon.client, Runtime.removePodSandbox, { podSandboxId: podId });
  });

  test(
    "a VM pod's VM grows to the pod's new resources (vCPUs and memory hot-plugged) and gives them back when they shrink",
    async () => {
      const podId = await daemon.runPod('resize-vm', 'vm');
      const observer = await daemon.createContainer(podId, 'observer', ['sleep', '600']);
      await unary(daemon.client, Runtime.startContainer, { containerId: observer });
      const guest = async (): Promise<{ cpus: number; memTotalMiB: number }> => {
        const { stdout } = await unary(daemon.client, Runtime.execSync, { containerId: observer, cmd: ['sh', '-c', 'nproc; cat /proc/meminfo'], timeout: 30n });
        const text = stdout.toString();
        return { cpus: Number(text.split('\n')[0]), memTotalMiB: Number(/MemTotal:\s+(\d+)/.exec(text)?.[1]) / 1024 };
      };
      const before = await guest();
      await resize(podId, { cpuPeriod: 100_000n, cpuQuota: 100_000n, memoryLimitInBytes: 512n * MIB });
      const grown = await guest();
      expect(grown.cpus).toBe(Math.min(before.cpus + 1, availableParallelism()));
      expect(grown.memTotalMiB).toBeGreaterThan(before.memTotalMiB + 500);
      // Shares only: no CPU or memory limit asks the VM for more than it booted with.
      await resize(podId, { cpuShares: 256n });
      const shrunk = await guest();
      expect(shrunk.cpus).toBe(before.cpus);
      expect(shrunk.memTotalMiB).toBeLessThan(before.memTotalMiB + 10);
      await daemon.stopAndRemovePod(podId);
    },
    BOOT_MS,
  );
});
