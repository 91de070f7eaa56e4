/**
 * Read-write locks by key, first come first served: a holder of `exclusive` runs alone on its
 * key; `shared` holders run together. A waiting exclusive caller holds back later shared ones,
 * so a stream of readers cannot starve it. Keys nobody holds or waits on take no memory.
 */
export type LockMode = 'shared' | 'exclusive';

interface Waiter {
  mode: LockMode;
  grant: () => void;
}

interface KeyState {
  shared: number;
  exclusive: boolean;
  queue: Waiter[];
}

export class KeyedLock {
  private readonly keys = new Map<string, KeyState>();

  /** Runs `work` holding `key` in `mode`; the lock is released however `work` ends. */
  async run<T>(key: string, mode: LockMode, work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key, mode);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Whether anyone holds or waits for `key`. */
  busy(key: string): boolean {
    return this.keys.has(key);
  }

  private acquire(key: string, mode: LockMode): Promise<() => void> {
    let state = this.keys.get(key);
    if (!state) {
      state = { shared: 0, exclusive: false, queue: [] };
      this.keys.set(key, state);
    }
    const held = state;
    return new Promise((resolve) => {
      held.queue.push({ mode, grant: () => resolve(() => this.release(key, held, mode)) });
      this.grant(key, held);
    });
  }

  private grant(key: string, state: KeyState): void {
    while (state.queue.length > 0 && !state.exclusive) {
      const next = state.queue[0];
      if (next.mode === 'exclusive' && state.shared > 0) break;
      state.queue.shift();
      if (next.mode === 'exclusive') state.exclusive = true;
      else state.shared++;
      next.grant();
    }
    if (!state.exclusive && state.shared === 0 && state.queue.length === 0) this.keys.delete(key);
  }

  private release(key: string, state: KeyState, mode: LockMode): void {
    if (mode === 'exclusive') state.exclusive = false;
    else state.shared--;
    this.grant(key, state);
  }
}
