import { once } from 'node:events';
import type { ContainerEventResponse, GetEventsRequest } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';

/** Streams every container event from now until the client goes away. */
export async function getContainerEvents(
  ctx: ServerContext,
  _request: GetEventsRequest,
  send: (event: ContainerEventResponse) => Promise<void>,
  cancelled: AbortSignal,
): Promise<void> {
  const unsubscribe = ctx.events.subscribe((event) => void send(event));
  try {
    if (!cancelled.aborted) await once(cancelled, 'abort');
  } finally {
    unsubscribe();
  }
}
