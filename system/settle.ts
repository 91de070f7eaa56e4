type Settled<T extends readonly unknown[]> = { -readonly [K in keyof T]: Awaited<T[K]> };

/**
 * Waits for all of `work`, then rejects with the first failure, if any: nothing is still running
 * when it returns. Given a tuple of different promises, resolves with their values, in order.
 */
export async function settle(work: Array<Promise<void>>): Promise<void>;
export async function settle<T extends readonly unknown[] | []>(work: T): Promise<Settled<T>>;
export async function settle(work: readonly unknown[]): Promise<unknown[] | void> {
  const outcomes = await Promise.allSettled(work);
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value);
}
