// usage_nano_cores over the runtime's own sampling window: the daemon's sampler (cpu-sampling.ts)
// records each cgroup's CPU counter at its own pace, and the stats calls only read the rate
// between its last two readings, so no client's calls change what another one sees.

interface Reading {
  usageNanos: bigint;
  /** Nanoseconds since the epoch. */
  at: bigint;
}

const windows = new Map<string, { previous: Reading | undefined; latest: Reading }>();

/** A sampler reading of the cgroup `key` names (a container's ID, or a pod's). */
export function recordCpuReading(key: string, usageNanos: bigint, at: bigint): void {
  const last = windows.get(key)?.latest;
  // A counter below its last reading was reset (a VM container's cgroup, removed by runc in the
  // guest as its process exits, reads as zero until the host hears of the exit): the window
  // starts over rather than give a negative rate, which no uint64 carries.
  const continues = last !== undefined && usageNanos >= last.usageNanos && at > last.at;
  windows.set(key, { previous: continues ? last : undefined, latest: { usageNanos, at } });
}

/** CPU use in billionths of a core over the last sampling window; undefined before two readings. */
export function nanoCores(key: string): bigint | undefined {
  const window = windows.get(key);
  if (window?.previous === undefined) return undefined;
  const { previous, latest } = window;
  return ((latest.usageNanos - previous.usageNanos) * 1_000_000_000n) / (latest.at - previous.at);
}

/** Drops the readings of a removed container or pod, so the map does not grow forever. */
export function forgetCpuReading(key: string): void {
  windows.delete(key);
}
