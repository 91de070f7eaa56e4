import type { ExecRequest, ExecResponse } from '../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../system/errors';
import type { ServerContext } from './context';
import { checkProcess } from './request-validation';
import { runningContainer, streamChoice } from './stream-target';

/** Exec: a URL on our streaming server where the client runs `cmd` in the container with its streams. */
export async function exec(ctx: ServerContext, request: ExecRequest): Promise<ExecResponse> {
  if (request.cmd.length === 0) throw new InvalidArgumentError('Exec: cmd is empty');
  checkProcess(request.cmd, [], 'Exec: cmd');
  const { container, handler } = runningContainer(ctx, request.containerId);
  const url = ctx.streams.issue({
    kind: 'exec',
    containerId: container.id,
    ...streamChoice('Exec', request),
    run: (io) => handler.exec(container.id, request.cmd, io),
  });
  return { url };
}
