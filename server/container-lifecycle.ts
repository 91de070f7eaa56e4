// Container state changes shared by several verbs and by the exit watcher: each goes through
// the runtime handler and is persisted in the container's record.
import { rm } from 'node:fs/promises';
import type { ExitReason } from './container-view';
import type { RuntimeHandler } from '../oci/runtime-handler';
import { ContainerEventType } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import type { UnfinishedRecords } from '../state/unfinished-records';
import { removeRootfs, rootfsPaths } from '../storage/rootfs';
import { counter } from '../system/metrics-registry';
import { settle } from '../system/settle';
import { containerBundle, nowNanos } from './container-config';
import { forgetCpuReading } from './cpu-rates';
import type { ServerContext } from './context';
import { handlerOfPod } from './pod-sandbox';

/** The runtime handler of the container's pod, which runs the container. */
export function handlerOf(ctx: ServerContext, container: ContainerRecord): RuntimeHandler {
  return handlerOfPod(ctx, ctx.state.pods.get(container.podId));
}

/**
 * The handlers that may hold containers of pod `podId`: its own, or every one when the pod has
 * no record (set aside as damaged at start, or a creation a crash cut short); a handler forgets
 * a container it does not know.
 */
export function handlersOfPodId(ctx: ServerContext, podId: string): RuntimeHandler[] {
  const pod = ctx.state.pods.find(podId);
  return pod ? [handlerOfPod(ctx, pod)] : ctx.handlers.list();
}

const oomKills = counter('podvisor_container_oom_kills_total', 'Containers whose exit was an out-of-memory kill, by runtime handler.');

/**
 * Records an exit reported by conmon or the agent (now, or found after a restart), once: the
 * stop that caused it and the exit watcher may both report it; a container removed meanwhile
 * stays removed.
 */
export async function recordExit(ctx: ServerContext, id: string, exitCode: number, at: Date, oomKilled: boolean): Promise<void> {
  const reason: ExitReason = oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
  let recorded = false;
  const exited = await ctx.state.containers.update(id, (container) => {
    if (container.state === 'exited') return container;
    recorded = true;
    return { ...container, state: 'exited', exitCode, reason, finishedAt: (BigInt(at.getTime()) * 1_000_000n).toString() };
  });
  if (!exited || !recorded) return;
  if (oomKilled) oomKills.inc({ runtime_handler: ctx.state.pods.find(exited.podId)?.runtimeHandler ?? '' });
  ctx.events.publish(ctx, exited, ContainerEventType.CONTAINER_STOPPED_EVENT);
  ctx.logger.info('container exited', { container_id: id, pod_id: exited.podId, exit_code: exitCode, reason });
}

/** Stops a container if it runs; the exit is then read back from the runtime. Idempotent. */
export async function stopContainerRecord(ctx: ServerContext, container: ContainerRecord, timeoutMs: number): Promise<void> {
  const handler = handlerOf(ctx, container);
  if (container.state === 'running') await handler.stopContainer(container.id, container.stopSignal, timeoutMs);
  if (container.state === 'exited') return;
  const state = await handler.containerState(container.id);
  if (state.status === 'stopped' || container.state === 'created') {
    await recordExit(ctx, container.id, state.exitCode ?? (container.state === 'created' ? 0 : 137), state.finishedAt ?? new Date(), state.oomKilled ?? false);
  }
}

/**
 * Removes what a container is made of: the runtime's state and conmon's files (in each of
 * `handlers`), the overlay and its directories, the bundle. Each is idempotent, so a failure is
 * retried whole. The runtime's part goes first: until then it may still hold the overlay (a
 * created container's init process, a VM's share of the root filesystem).
 */
export async function removeContainerParts(ctx: ServerContext, handlers: RuntimeHandler[], container: Pick<ContainerRecord, 'id' | 'dir'>): Promise<void> {
  await Promise.all(handlers.map((handler) => handler.removeContainer(container.id)));
  await settle([removeRootfs(rootfsPaths(container.dir)), rm(containerBundle(ctx, container.id), { recursive: true, force: true })]);
}

/**
 * Takes apart a container gone from the records: its parts, then its image lease (its layers may
 * go now), then the record `pending` kept of it. A failure throws and leaves that record.
 */
export async function takeApart(ctx: ServerContext, container: ContainerRecord, pending: UnfinishedRecords<ContainerRecord>): Promise<void> {
  await removeContainerParts(ctx, handlersOfPodId(ctx, container.podId), container);
  await ctx.images.release(container.id);
  await pending.finish(container.id);
}

/**
 * Stops (at once) and removes a container. Idempotent. Once this resolves it is gone from every
 * answer, durably, and its name is free; its parts are taken apart in the background.
 */
export async function removeContainerRecord(ctx: ServerContext, container: ContainerRecord): Promise<void> {
  // Without its pod's record no handler is known to stop it; the removal from each ends it.
  if (ctx.state.pods.find(container.podId)) await stopContainerRecord(ctx, container, 0);
  await ctx.state.containers.remove(container.id, ctx.state.removedContainers);
  void ctx.removals.begin(ctx, container);
  forgetCpuReading(container.id);
  // Its pod's remaining containers go with the event, as after the removal a relist sees them.
  ctx.events.publish(ctx, container, ContainerEventType.CONTAINER_DELETED_EVENT);
  ctx.logger.info('container removed', { container_id: container.id, pod_id: container.podId });
}

export function startedNow(container: ContainerRecord): ContainerRecord {
  return { ...container, state: 'running', startedAt: nowNanos() };
}
