// RemoveContainer answers once the container is gone from the records, durably; what it was made
// of (the runtime's state and conmon, the root filesystem, the bundle, then the image lease) is
// taken apart after the answer. Until that is done its record waits in state.removedContainers,
// so a crash only delays the work: the next start finishes it (server/crash-recovery.ts).
import type { ContainerRecord } from '../state/container-record';
import { errorMessage } from '../system/errors';
import { settle } from '../system/settle';
import { takeApart } from './container-lifecycle';
import type { ServerContext } from './context';

interface Removal {
  container: ContainerRecord;
  /** Rejects when the taking apart failed: the record stays, for a retry. */
  attempt: Promise<void>;
}

/** The removed containers whose parts are being taken apart, or failed to be. */
export class ContainerRemovals {
  private readonly pending = new Map<string, Removal>();

  /** Takes `container`, whose record is in state.removedContainers, apart; resolves once done or failed (logged). */
  begin(ctx: ServerContext, container: ContainerRecord): Promise<void> {
    return this.attempt(ctx, container).catch(() => undefined);
  }

  private attempt(ctx: ServerContext, container: ContainerRecord): Promise<void> {
    const attempt = takeApart(ctx, container, ctx.state.removedContainers);
    this.pending.set(container.id, { container, attempt });
    attempt.then(
      () => {
        if (this.pending.get(container.id)?.attempt === attempt) this.pending.delete(container.id);
      },
      (error: unknown) => ctx.logger.error('cannot take apart a removed container', { container_id: container.id, pod_id: container.podId, error: errorMessage(error) }),
    );
    return attempt;
  }

  /**
   * Waits until the removed containers of pod `podId` are taken apart, trying those that failed
   * once more (before the pod's own removal: they may hold its cgroup or mounts); throws if one
   * fails again.
   */
  async finish(ctx: ServerContext, podId: string): Promise<void> {
    const ofPod = [...this.pending.values()].filter((removal) => removal.container.podId === podId);
    await settle(ofPod.map((removal) => removal.attempt.catch(() => this.attempt(ctx, removal.container))));
  }

  /** Waits for every removal under way (a failure stays recorded for the next start). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending.values()].map((removal) => removal.attempt));
  }
}
