import type { CheckpointContainerRequest, CheckpointContainerResponse } from '../proto/gen/cri-api-v1';
import { UnimplementedError } from '../system/errors';
import type { ServerContext } from './context';

// Answered on purpose rather than left to the generic UNIMPLEMENTED, so the kubelet's
// checkpoint API (and crictl checkpoint) tell the user why.
export function checkpointContainer(ctx: ServerContext, request: CheckpointContainerRequest): Promise<CheckpointContainerResponse> {
  return Promise.reject(
    new UnimplementedError(
      `CheckpointContainer (container ${request.containerId}) is not supported by podvisor ${ctx.version}: checkpointing needs CRIU to save ` +
        "a container's processes, which podvisor does not drive, and a VM pod's guest cannot be saved one container at a time",
    ),
  );
}
