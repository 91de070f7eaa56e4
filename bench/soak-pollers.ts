import { setTimeout as sleep } from 'node:timers/promises';
import type { CriCalls } from './cri-calls';

/** A call the kubelet makes over and over, and how long it waits after one before the next. */
interface Poller {
  name: string;
  everyMs: number;
  poll(cri: CriCalls): Promise<unknown>;
}

/**
 * The PLEG's relist: every pod and container listed, then the status of each. (The kubelet asks
 * only for those that changed; asking for all is the harder load.) A status may find its object
 * gone, removed since the list; those NOT_FOUNDs are the relist's normal race.
 */
async function relist(cri: CriCalls): Promise<void> {
  const pods = await cri.listPods();
  const containers = await cri.listContainers();
  for (const pod of pods) await cri.podStatus(pod.id).catch(() => undefined);
  for (const container of containers) await cri.containerStatus(container.id).catch(() => undefined);
}

/** The kubelet's periodic calls, at its default periods. */
export const POLLERS: Poller[] = [
  { name: 'PLEG relist: ListPodSandbox, ListContainers, PodSandboxStatus and ContainerStatus of each', everyMs: 1000, poll: relist },
  { name: 'runtime health: Status', everyMs: 5000, poll: (cri) => cri.status() },
  { name: 'stats: ListContainerStats, ListPodSandboxStats', everyMs: 10_000, poll: async (cri) => [await cri.listContainerStats(), await cri.listPodStats()] },
  { name: 'eviction manager: ImageFsInfo', everyMs: 10_000, poll: (cri) => cri.imageFsInfo() },
  { name: 'image cache: ListImages', everyMs: 30_000, poll: (cri) => cri.listImages() },
];

/**
 * Runs every poller until `stop`, each waiting its period after its last call ended (as the
 * kubelet's loops do). Failures are only recorded (by the CriCalls' observer): the kubelet
 * keeps polling whatever an answer was.
 */
export async function runPollers(cri: CriCalls, stop: AbortSignal): Promise<void> {
  await Promise.all(
    POLLERS.map(async (poller) => {
      while (!stop.aborted) {
        await poller.poll(cri).catch(() => undefined);
        await sleep(poller.everyMs, undefined, { signal: stop }).catch(() => undefined);
      }
    }),
  );
}
