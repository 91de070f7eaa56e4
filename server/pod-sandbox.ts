// A pod record as its runtime handler sees it, and as the handler says it is now: each
// handler takes its pods back at start, and a sandbox that died on its own reads NOTREADY.
import type { PodHandlerState, PodSandbox, RuntimeHandler } from '../oci/runtime-handler';
import type { PodRecord } from '../state/pod-record';
import { cachedPerObject } from '../system/per-object-cache';
import type { ServerContext } from './context';
import { loadedConfig } from './pod-config';
import { recordPodDeath } from './pod-deaths';

export function handlerOfPod(ctx: ServerContext, pod: PodRecord): RuntimeHandler {
  return ctx.handlers.resolve(pod.runtimeHandler);
}

/** The pod as its handler is given it. */
export function podSandboxOf(pod: PodRecord): PodSandbox {
  const config = loadedConfig(pod.config);
  return {
    id: pod.id,
    config,
    namespaces: pod.namespaces,
    cgroupPath: pod.cgroup.path,
    hostname: pod.hostname ?? config.hostname,
    shmSizeBytes: pod.shmSizeBytes ?? 0,
    sysctls: pod.sysctls ?? { ...config.linux?.sysctls },
  };
}

/** Records older than handler state kept the conmon handler's (its files and infra process) in fields of their own. */
function recordedHandlerState(pod: PodRecord): PodHandlerState | undefined {
  if (pod.handlerState !== undefined || pod.files === undefined) return pod.handlerState;
  return { files: pod.files, infra: pod.infra };
}

/**
 * At start, before any call: every handler takes back its pods, and what it made for none of
 * them (a VM template a crash cut short); the deaths of those it found dead are recorded.
 */
export async function restorePods(ctx: ServerContext): Promise<void> {
  for (const handler of ctx.handlers.list()) {
    const pods = ctx.state.pods.list().filter((pod) => pod.runtimeHandler === handler.name);
    const dead = await handler.restorePods(pods.map((pod) => ({ pod: podSandboxOf(pod), state: recordedHandlerState(pod) })));
    for (const podId of dead) await recordPodDeath(ctx, podId);
  }
}

// One per record, so the views cached per record work for a dead pod as well.
const asDead = cachedPerObject((pod: PodRecord): PodRecord => ({ ...pod, state: 'notready' }));

/**
 * The pod as it is now: a ready record whose sandbox died on its own (recorded so or not yet),
 * or whose handler is no longer configured, reads NOTREADY until it is stopped.
 */
export function observedPod(ctx: ServerContext, pod: PodRecord): PodRecord {
  if (pod.state !== 'ready') return pod;
  const alive = pod.diedAt === undefined && ctx.handlers.find(pod.runtimeHandler)?.podAlive(pod.id) === true;
  return alive ? pod : asDead(pod);
}
