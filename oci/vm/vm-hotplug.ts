import { errorMessage } from '../../system/errors';
import type { Logger } from '../../system/logger';
import type { AgentClient } from './agent-client';
import { QmpClient } from './qmp-client';
import type { VmSize } from './vm-size';

const QMP_TIMEOUT_MS = 10_000;
const AGENT_TIMEOUT_MS = 15_000;
// The guest offlines and ejects a DIMM's memory on request; under TCG that takes a moment.
const UNPLUG_TIMEOUT_MS = 20_000;
// Linux onlines memory in blocks of 128 MiB on x86_64: a DIMM is a whole number of them.
const MEMORY_BLOCK_MIB = 128;
const MIB = 1024 * 1024;

interface HotpluggableCpu {
  type: string;
  props: Record<string, number>;
  'qom-path'?: string;
}

interface MemoryDevice {
  type: string;
  data: { id?: string; size: number };
}

/** Our DIMMs: dimm-N with its backend mem-N. */
const DIMM_ID = /^dimm-(\d+)$/;

async function dimms(qmp: QmpClient): Promise<{ id: string; n: number; mib: number }[]> {
  const devices = (await qmp.execute('query-memory-devices', undefined, QMP_TIMEOUT_MS)) as MemoryDevice[];
  return devices
    .map((device) => ({ id: device.data.id ?? '', mib: device.data.size / MIB }))
    .filter((dimm) => DIMM_ID.test(dimm.id))
    .map((dimm) => ({ ...dimm, n: Number(DIMM_ID.exec(dimm.id)?.[1]) }))
    .sort((a, b) => a.n - b.n);
}

/** Plugs vCPUs into free slots until `wanted` are present; returns how many are. */
async function plugCpus(qmp: QmpClient, wanted: number): Promise<number> {
  const slots = (await qmp.execute('query-hotpluggable-cpus', undefined, QMP_TIMEOUT_MS)) as HotpluggableCpu[];
  let present = slots.filter((slot) => slot['qom-path'] !== undefined).length;
  for (const slot of slots.filter((candidate) => candidate['qom-path'] === undefined)) {
    if (present >= wanted) break;
    const id = `vcpu-${Object.values(slot.props).join('-')}`;
    await qmp.execute('device_add', { driver: slot.type, id, ...slot.props }, QMP_TIMEOUT_MS);
    present += 1;
  }
  return present;
}

/** Unplugs one DIMM: the guest offlines its memory and ejects it, then its backend goes. */
async function unplugDimm(qmp: QmpClient, dimm: { id: string; n: number }): Promise<void> {
  const deleted = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the guest did not release ${dimm.id} within ${UNPLUG_TIMEOUT_MS} ms`));
    }, UNPLUG_TIMEOUT_MS);
    const stop = qmp.onEvent((event) => {
      if (event.event !== 'DEVICE_DELETED' || (event.data as { device?: string } | undefined)?.device !== dimm.id) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
  await qmp.execute('device_del', { id: dimm.id }, QMP_TIMEOUT_MS);
  await deleted;
  await qmp.execute('object-del', { id: `mem-${dimm.n}` }, QMP_TIMEOUT_MS);
}

/**
 * Brings a running pod VM to `wanted`: vCPUs are plugged in through QMP and given back by the
 * agent taking them offline (QEMU 7.2 under TCG crashed unplugging them); memory comes as DIMMs,
 * onlined movable by the agent, and goes back by unplugging the newest DIMMs that are no longer
 * needed. Giving back is best effort: memory the guest cannot free stays plugged.
 */
export async function resizePodVm(qmpSocket: string, agent: AgentClient, boot: VmSize, wanted: VmSize, logger: Logger, podId: string): Promise<VmSize> {
  const qmp = await QmpClient.connect(qmpSocket, QMP_TIMEOUT_MS);
  try {
    const cpusPresent = await plugCpus(qmp, wanted.vcpus);
    const plugged = await dimms(qmp);
    let memoryMiB = boot.memoryMiB + plugged.reduce((sum, dimm) => sum + dimm.mib, 0);
    if (wanted.memoryMiB > memoryMiB) {
      const n = (plugged.at(-1)?.n ?? 0) + 1;
      const mib = Math.ceil((wanted.memoryMiB - memoryMiB) / MEMORY_BLOCK_MIB) * MEMORY_BLOCK_MIB;
      await qmp.execute('object-add', { 'qom-type': 'memory-backend-ram', id: `mem-${n}`, size: mib * MIB }, QMP_TIMEOUT_MS);
      await qmp.execute('device_add', { driver: 'pc-dimm', id: `dimm-${n}`, memdev: `mem-${n}` }, QMP_TIMEOUT_MS);
      memoryMiB += mib;
    }
    const vcpus = await agent.onlineCpusMemory(wanted.vcpus, { cpus: cpusPresent, memoryMiB }, AGENT_TIMEOUT_MS);
    for (const dimm of [...plugged].reverse()) {
      if (memoryMiB - dimm.mib < wanted.memoryMiB) break;
      try {
        await unplugDimm(qmp, dimm);
        memoryMiB -= dimm.mib;
      } catch (error) {
        logger.warn('pod VM memory not given back', { pod_id: podId, dimm: dimm.id, error: errorMessage(error) });
        break;
      }
    }
    logger.info('pod VM resized', { pod_id: podId, vcpus, memory_mib: memoryMiB, wanted_vcpus: wanted.vcpus, wanted_memory_mib: wanted.memoryMiB });
    return { vcpus, memoryMiB };
  } finally {
    qmp.close();
  }
}
