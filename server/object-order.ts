// Calls that change the same pod or container run one after another, so every answer is one
// some serial order would give: a pod's stop, removal or resize holds the pod alone; a container's
// verbs hold the container alone and its pod shared, so a pod is never stopped halfway through
// making or starting one of its containers. Calls on different objects never wait for each
// other. Reads take no lock: they answer from the records, which change whole.
import type { ContainerRecord } from '../state/container-record';
import type { PodRecord } from '../state/pod-record';
import { NotFoundError } from '../system/errors';
import type { LockMode } from '../system/keyed-lock';
import type { ServerContext } from './context';

const podKey = (id: string): string => `pod/${id}`;
const containerKey = (id: string): string => `container/${id}`;

function lockContainer<T>(ctx: ServerContext, found: ContainerRecord, work: (current: ContainerRecord | undefined) => Promise<T>): Promise<T> {
  return ctx.state.locks.run(podKey(found.podId), 'shared', () =>
    ctx.state.locks.run(containerKey(found.id), 'exclusive', () => work(ctx.state.containers.find(found.id))),
  );
}

/**
 * Runs `work` on the container alone, inside its pod, with its record as it is once the calls
 * before are done. NotFound if there is no such container, or one of those calls removed it.
 */
export function withContainer<T>(ctx: ServerContext, idOrPrefix: string, work: (container: ContainerRecord) => Promise<T>): Promise<T> {
  return lockContainer(ctx, ctx.state.containers.get(idOrPrefix), (current) => {
    if (!current) throw new NotFoundError(`container ${idOrPrefix} was removed`);
    return work(current);
  });
}

/** Like withContainer, for the idempotent verbs: a container that is gone is no error, and `work` does not run. */
export async function withContainerIfAny(ctx: ServerContext, idOrPrefix: string, work: (container: ContainerRecord) => Promise<void>): Promise<void> {
  const found = ctx.state.containers.find(idOrPrefix);
  if (found) await lockContainer(ctx, found, async (current) => current && work(current));
}

function lockPod<T>(ctx: ServerContext, found: PodRecord, mode: LockMode, work: (current: PodRecord | undefined) => Promise<T>): Promise<T> {
  return ctx.state.locks.run(podKey(found.id), mode, () => work(ctx.state.pods.find(found.id)));
}

/** `work` on the pod as it is once the calls before are done; NotFound if one of them removed it. */
function onPod<T>(ctx: ServerContext, idOrPrefix: string, mode: LockMode, work: (pod: PodRecord) => Promise<T>): Promise<T> {
  return lockPod(ctx, ctx.state.pods.get(idOrPrefix), mode, (current) => {
    if (!current) throw new NotFoundError(`pod sandbox ${idOrPrefix} was removed`);
    return work(current);
  });
}

/** Runs `work` on the pod alone (its stop or removal), if the pod exists once the calls before are done. */
export async function withPodIfAny(ctx: ServerContext, idOrPrefix: string, work: (pod: PodRecord) => Promise<void>): Promise<void> {
  const found = ctx.state.pods.find(idOrPrefix);
  if (found) await lockPod(ctx, found, 'exclusive', async (current) => current && work(current));
}

/**
 * Runs `work` on the pod alone, with none of its containers' calls beside it (a pod-level
 * resize). NotFound if there is no such pod, or a call before removed it.
 */
export function withPod<T>(ctx: ServerContext, idOrPrefix: string, work: (pod: PodRecord) => Promise<T>): Promise<T> {
  return onPod(ctx, idOrPrefix, 'exclusive', work);
}

/**
 * Runs `work` while the pod can be neither stopped nor removed (making a container in it).
 * NotFound if there is no such pod, or a call before removed it.
 */
export function inPod<T>(ctx: ServerContext, idOrPrefix: string, work: (pod: PodRecord) => Promise<T>): Promise<T> {
  return onPod(ctx, idOrPrefix, 'shared', work);
}
