/**
 * Runs `task(0..count-1)` with at most `parallel` in flight. The first failure, or `signal`
 * aborting, stops new tasks from starting; tasks already running finish first, so nothing the
 * bench created is still being made while it cleans up.
 */
export async function runPool(count: number, parallel: number, signal: AbortSignal, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < count && failure === undefined && !signal.aborted) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  if (failure !== undefined) throw failure;
  signal.throwIfAborted();
}
