import { listPodSandbox } from './list-pod-sandbox';
import { streamedList } from './list-stream';
import { podBytes } from './response-encoding';

export const streamPodSandboxes = streamedList(listPodSandbox, {
  items: (listed) => listed.items,
  encodedBytes: (pod) => podBytes(pod).length,
  batch: (podSandboxes) => ({ podSandboxes }),
});
