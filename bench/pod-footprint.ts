import type { CriCalls } from './cri-calls';
import { WORKLOAD_EXECUTABLES } from './population';
import { listProcesses, podProcesses, totalPssKib } from './processes';
import { KIB_PER_MIB } from './scale';

/** The processes pods keep on the host, and their memory. */
export interface Footprint {
  pids: number[];
  /** The PSS of all of them together. */
  pssMib: number;
}

/**
 * Every process in the pods' cgroups (as podvisord reports them) but the containers' own
 * workload: conmon for a runc pod, QEMU for a VM pod, whatever else either comes to run.
 */
export async function podsFootprint(cri: CriCalls, podIds: readonly string[]): Promise<Footprint> {
  const all = await listProcesses();
  const perPod = await Promise.all(podIds.map(async (podId) => podProcesses(all, await cri.podCgroup(podId), WORKLOAD_EXECUTABLES)));
  const pids = perPod.flat().map((info) => info.pid);
  return { pids, pssMib: (await totalPssKib(pids)) / KIB_PER_MIB };
}
