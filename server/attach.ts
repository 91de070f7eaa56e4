import type { AttachRequest, AttachResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { runningContainer, streamChoice } from './stream-target';

/** Attach: a URL on our streaming server joining the client to the container's main process. */
export async function attach(ctx: ServerContext, request: AttachRequest): Promise<AttachResponse> {
  const { container, handler } = runningContainer(ctx, request.containerId);
  const url = ctx.streams.issue({
    kind: 'attach',
    containerId: container.id,
    ...streamChoice('Attach', request),
    run: async (io) => {
      await handler.attach(container.id, io);
      return undefined;
    },
  });
  return { url };
}
