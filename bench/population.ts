import type { PodSandboxConfig } from '../proto/gen/cri-api-v1';
import type { CriCalls } from './cri-calls';
import { runPool } from './pool';

/** What the pods that stay up (for the loops and the scale figures) run. */
export const IDLE_COMMAND = ['sleep', '3600'];
/** The executables of IDLE_COMMAND and of the lifecycle's command: the pods' workload, not the runtime's cost. */
export const WORKLOAD_EXECUTABLES = ['sleep', 'sh'];

export interface RunningPod {
  id: string;
  config: PodSandboxConfig;
  containers: string[];
}

export interface PopulationOptions {
  parallel: number;
  image: string;
  signal: AbortSignal;
  /** The runtime handler the pods ask for; the default handler without one. */
  handler?: string;
}

async function runContainer(cri: CriCalls, pod: RunningPod, image: string): Promise<void> {
  const id = await cri.createContainer(pod.id, pod.config, `idle-${pod.containers.length}`, image, IDLE_COMMAND);
  await cri.startContainer(id);
  pod.containers.push(id);
}

/** Starts `count` pods named `${prefix}-N`, each with one running container. */
export async function startPods(cri: CriCalls, count: number, prefix: string, options: PopulationOptions): Promise<RunningPod[]> {
  const pods: RunningPod[] = [];
  await runPool(count, options.parallel, options.signal, async (index) => {
    const config = cri.podConfig(`${prefix}-${index}`);
    const pod: RunningPod = { id: await cri.runPod(config, options.handler), config, containers: [] };
    pods.push(pod);
    await runContainer(cri, pod, options.image);
  });
  return pods;
}

/** Starts `count` more containers, spread over `pods` in turn. */
export function addContainers(cri: CriCalls, pods: RunningPod[], count: number, options: PopulationOptions): Promise<void> {
  // Each pod gets its containers from one worker at a time, so names within a pod never race.
  const perPod = pods.map((pod, index) => ({ pod, more: Math.floor(count / pods.length) + (index < count % pods.length ? 1 : 0) }));
  return runPool(perPod.length, options.parallel, options.signal, async (index) => {
    for (let i = 0; i < perPod[index].more; i++) await runContainer(cri, perPod[index].pod, options.image);
  });
}
