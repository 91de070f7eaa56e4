import { setTimeout as sleep } from 'node:timers/promises';
import type { ReopenContainerLogRequest, ReopenContainerLogResponse } from '../proto/gen/cri-api-v1';
import { DeadlineExceededError, FailedPreconditionError } from '../system/errors';
import { pathExists } from '../system/path-exists';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';

// conmon reopens the log asynchronously; the kubelet's rotation expects the new file at once.
const REOPEN_WAIT_MS = 5000;
const POLL_MS = 20;

export async function reopenContainerLog(ctx: ServerContext, request: ReopenContainerLogRequest): Promise<ReopenContainerLogResponse> {
  const container = ctx.state.containers.get(request.containerId);
  if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
  await handlerOf(ctx, container).reopenLog(container.id);
  for (const deadline = Date.now() + REOPEN_WAIT_MS; !(await pathExists(container.logPath)); await sleep(POLL_MS)) {
    if (Date.now() > deadline) throw new DeadlineExceededError(`conmon did not reopen ${container.logPath} within ${REOPEN_WAIT_MS} ms`);
  }
  return {};
}
