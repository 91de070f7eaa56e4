// A pod's infra process and a pod's VM are no children of the daemon (each outlives a restart),
// so nothing signals their end: each pod a handler runs is asked in turn whether it is alive.
// Once a round: about as soon as the kubelet's relist would notice, without its cost.
const ROUND_INTERVAL_MS = 1_000;

/** The pods of one handler whose sandbox dies on its own, each reported once. */
export class PodDeathWatch {
  private readonly watchers = new Set<(podId: string) => void>();
  /** Pods whose end is no death to report: reported already, found dead at restore, or being stopped. */
  private readonly settled = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** The pods the handler runs now. */
    private readonly pods: () => Iterable<string>,
    /** The handler's podAlive. */
    private readonly alive: (podId: string) => Promise<boolean>,
  ) {}

  /** Calls `onDeath` with the ID of each pod found dead from now on; returns the function that stops. */
  watch(onDeath: (podId: string) => void): () => void {
    this.watchers.add(onDeath);
    this.schedule();
    return () => {
      this.watchers.delete(onDeath);
      if (this.watchers.size > 0) return;
      clearTimeout(this.timer);
      this.timer = undefined;
    };
  }

  /** The pod's end from now on is no death: it is being stopped, or its death is known already. */
  settle(podId: string): void {
    this.settled.add(podId);
  }

  /** The pod is gone from the handler. */
  forget(podId: string): void {
    this.settled.delete(podId);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.watchers.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.round().finally(() => this.schedule());
    }, ROUND_INTERVAL_MS);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    for (const podId of [...this.pods()]) {
      if (this.settled.has(podId)) continue;
      // A pod whose state cannot be read now is asked again next round.
      const alive = await this.alive(podId).catch(() => true);
      // Its stop may have begun while it was asked, and ended it.
      if (alive || this.settled.has(podId)) continue;
      this.settled.add(podId);
      for (const onDeath of this.watchers) onDeath(podId);
    }
  }
}
