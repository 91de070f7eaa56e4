import { errorMessage } from '../system/errors';
import { containerUsage, timestampNow } from './container-stats-view';
import type { ServerContext } from './context';
import { recordCpuReading } from './cpu-rates';
import { podUsage } from './pod-stats-view';

/** Reads one cgroup's CPU counter into its window; one that cannot be read now is read next time. */
async function sample(ctx: ServerContext, key: string, read: () => Promise<{ cpu?: { usageNanos: bigint } }>): Promise<void> {
  try {
    const { cpu } = await read();
    // One removed while it was read stays forgotten.
    const present = ctx.state.containers.find(key) ?? ctx.state.pods.find(key);
    if (cpu && present) recordCpuReading(key, cpu.usageNanos, timestampNow());
  } catch (error) {
    // A container or pod stopping as it is read; its next reading, if it runs on, comes a window later.
    ctx.logger.debug('CPU reading skipped', { id: key, error: errorMessage(error) });
  }
}

async function sampleAll(ctx: ServerContext): Promise<void> {
  const containers = ctx.state.containers.list().filter((container) => container.state === 'running');
  const pods = ctx.state.pods.list().filter((pod) => pod.state === 'ready');
  await Promise.all([
    ...containers.map((container) => sample(ctx, container.id, () => containerUsage(ctx, container))),
    ...pods.map((pod) => sample(ctx, pod.id, () => podUsage(ctx, pod))),
  ]);
}

/**
 * The daemon's CPU sampler: every stats_sample_interval_seconds (read anew each round, so a
 * SIGHUP applies it) it reads every running container's and ready pod's CPU counter. Rounds do
 * not overlap. Resolves the returned stop once the round in flight, if any, has ended.
 */
export function startCpuSampling(ctx: ServerContext): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();
  let stopped = false;
  const run = (): void => {
    round = sampleAll(ctx).finally(() => {
      if (!stopped) timer = setTimeout(run, ctx.config.metrics.stats_sample_interval_seconds * 1000);
    });
  };
  run();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await round;
  };
}
