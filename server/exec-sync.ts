import type { ExecSyncRequest, ExecSyncResponse } from '../proto/gen/cri-api-v1';
import { FailedPreconditionError, InvalidArgumentError } from '../system/errors';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';
import { checkProcess, timeoutMs } from './request-validation';

// A timeout of 0 means none in CRI; we still bound it, so no exec holds a call forever.
const UNBOUNDED_EXEC_MS = 24 * 60 * 60 * 1000;

export async function execSync(ctx: ServerContext, request: ExecSyncRequest): Promise<ExecSyncResponse> {
  const container = ctx.state.containers.get(request.containerId);
  if (request.cmd.length === 0) throw new InvalidArgumentError('ExecSync: cmd is empty');
  checkProcess(request.cmd, [], 'ExecSync: cmd');
  if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
  const handler = handlerOf(ctx, container);
  const waitMs = request.timeout === 0n ? UNBOUNDED_EXEC_MS : timeoutMs(request.timeout, 'ExecSync: timeout');
  return handler.execSync(container.id, request.cmd, waitMs);
}
