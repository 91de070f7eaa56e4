import { ContainerStats } from '../proto/gen/cri-api-v1';
import { listContainerStats } from './list-container-stats';
import { streamedList } from './list-stream';

export const streamContainerStats = streamedList(listContainerStats, {
  items: (listed) => listed.stats,
  encodedBytes: (stats) => ContainerStats.encode(stats).finish().length,
  batch: (containerStats) => ({ containerStats }),
});
