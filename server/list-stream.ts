// The Stream* verbs answer with what their List* verb lists for the same filter, sent in
// batches, so a node with many pods is not held to gRPC's limit on one message (the reason
// the CRI has them). Every item is in exactly one batch; an empty list sends none.
import type { StreamingVerb, Verb } from './call';

// Well below the 4 MiB a gRPC client takes by default; one item larger than this goes alone.
const BATCH_BYTES = 1024 * 1024;

/** How one list's items are taken from its answer, measured, and sent on as a stream's answers. */
export interface ListStream<ListResponse, Item, StreamResponse> {
  items(listed: ListResponse): Item[];
  /** An item's size in its answer, encoded (its field tag and length aside, where that is cheaper). */
  encodedBytes(item: Item): number;
  batch(items: Item[]): StreamResponse;
}

export function streamedList<Request, ListResponse, Item, StreamResponse>(
  list: Verb<Request, ListResponse>,
  stream: ListStream<ListResponse, Item, StreamResponse>,
): StreamingVerb<Request, StreamResponse> {
  return async (ctx, request, send, cancelled) => {
    const items = stream.items(await list(ctx, request, { clientGone: () => cancelled.aborted }));
    let batch: Item[] = [];
    let bytes = 0;
    for (const item of items) {
      const size = stream.encodedBytes(item);
      if (batch.length > 0 && bytes + size > BATCH_BYTES) {
        await send(stream.batch(batch));
        if (cancelled.aborted) return;
        batch = [];
        bytes = 0;
      }
      batch.push(item);
      bytes += size;
    }
    if (batch.length > 0) await send(stream.batch(batch));
  };
}
