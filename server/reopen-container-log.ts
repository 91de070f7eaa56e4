import type { ReopenContainerLogRequest, ReopenContainerLogResponse } from '../proto/gen/cri-api-v1';
import { DeadlineExceededError, FailedPreconditionError } from '../system/errors';
import { pathExists } from '../system/path-exists';
import { waitUntil } from '../system/wait-until';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';
import { withContainer } from './object-order';

// conmon reopens the log asynchronously; the kubelet's rotation expects the new file at once.
const REOPEN_WAIT_MS = 5000;
const POLL_MS = 20;

export async function reopenContainerLog(ctx: ServerContext, request: ReopenContainerLogRequest): Promise<ReopenContainerLogResponse> {
  await withContainer(ctx, request.containerId, async (container) => {
    if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
    await handlerOf(ctx, container).reopenLog(container.id);
    if (!(await waitUntil(() => pathExists(container.logPath), REOPEN_WAIT_MS, POLL_MS))) {
      throw new DeadlineExceededError(`conmon did not reopen ${container.logPath} within ${REOPEN_WAIT_MS} ms`);
    }
  });
  return {};
}
