import type { ReadTarget } from './read-calls';

/**
 * The churn's running pods or containers, for one reader to read in turn. An object is
 * withdrawn before it is stopped, and the withdrawal waits for a read of it under way, so a
 * read never races its object's end (and is never timed on an error path instead).
 */
export class LiveObjects {
  private readonly ids: string[] = [];
  private next = 0;
  /** The read under way, settled whatever its outcome. */
  private reading: { id: string; settled: Promise<void> } | undefined;

  add(id: string): void {
    this.ids.push(id);
  }

  async withdraw(id: string): Promise<void> {
    const at = this.ids.indexOf(id);
    if (at >= 0) this.ids.splice(at, 1);
    if (this.reading?.id === id) await this.reading.settled;
  }

  /** Calls `read` on the next object in turn; answers false, calling nothing, when there is none. */
  async read(read: (id: string) => Promise<unknown>): Promise<boolean> {
    if (this.ids.length === 0) return false;
    const id = this.ids[this.next++ % this.ids.length];
    const call = read(id);
    this.reading = { id, settled: call.then(
      () => undefined,
      () => undefined,
    ) };
    try {
      await call;
    } finally {
      this.reading = undefined;
    }
    return true;
  }
}

/** The churn's running pods and containers, by what a read call names. */
export type ChurnObjects = Record<ReadTarget, LiveObjects>;

export function churnObjects(): ChurnObjects {
  return { pod: new LiveObjects(), container: new LiveObjects() };
}
