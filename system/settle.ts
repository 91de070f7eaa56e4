/** Waits for all of `work`, then rejects with the first failure, if any: nothing is still running when it returns. */
export async function settle(work: Array<Promise<void>>): Promise<void> {
  const failure = (await Promise.allSettled(work)).find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}
