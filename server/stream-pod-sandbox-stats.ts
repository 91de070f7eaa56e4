import { PodSandboxStats } from '../proto/gen/cri-api-v1';
import { listPodSandboxStats } from './list-pod-sandbox-stats';
import { streamedList } from './list-stream';

export const streamPodSandboxStats = streamedList(listPodSandboxStats, {
  items: (listed) => listed.stats,
  encodedBytes: (stats) => PodSandboxStats.encode(stats).finish().length,
  batch: (podSandboxStats) => ({ podSandboxStats }),
});
