// How big a pod's VM is, from the sandbox config the kubelet sends.
import { PodSandboxConfig } from '../proto/gen/cri-api-v1';
import { podVmSize, wantedVmSize } from '../oci/vm/vm-size';

const BASE = { vcpus: 1, memoryMiB: 512 };
const MIB = 1024n * 1024n;

describe("a pod VM's size", () => {
  test('a pod with no limits gets the configured size', () => {
    expect(podVmSize(PodSandboxConfig.fromPartial({}), BASE, 4)).toEqual(BASE);
  });

  test("the containers' limits and the pod's overhead are added to it, CPUs rounded up and capped at the host's", () => {
    const config = PodSandboxConfig.fromPartial({
      linux: {
        resources: { cpuQuota: 150_000n, cpuPeriod: 100_000n, memoryLimitInBytes: 256n * MIB },
        overhead: { cpuQuota: 10_000n, cpuPeriod: 100_000n, memoryLimitInBytes: 100n * MIB + 1n },
      },
    });
    expect(podVmSize(config, BASE, 8)).toEqual({ vcpus: 3, memoryMiB: 512 + 256 + 101 });
    expect(podVmSize(config, BASE, 2).vcpus).toBe(2);
    expect(podVmSize(config, { vcpus: 4, memoryMiB: 512 }, 2).vcpus).toBe(4);
  });

  test("a running VM is wanted at its boot size at least, grown for what its containers' limits ask together", () => {
    const boot = { vcpus: 1, memoryMiB: 768 };
    expect(wantedVmSize(boot, BASE, undefined, [], 4)).toEqual(boot);
    const containers = [{ cpu: { quota: 100_000, period: 100_000 }, memory: { limit: 512 * 1024 * 1024 } }, { cpu: { quota: 50_000, period: 100_000 } }, {}];
    expect(wantedVmSize(boot, BASE, undefined, containers, 4)).toEqual({ vcpus: 3, memoryMiB: 1024 });
  });
});
