import { listContainers } from './list-containers';
import { streamedList } from './list-stream';
import { containerBytes } from './response-encoding';

export const streamContainers = streamedList(listContainers, {
  items: (listed) => listed.containers,
  encodedBytes: (container) => containerBytes(container).length,
  batch: (containers) => ({ containers }),
});
