import type { RuntimeHandler } from '../oci/runtime-handler';
import { type ContainerConfig, NamespaceMode } from '../proto/gen/cri-api-v1';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../system/errors';
import type { ServerContext } from './context';

/**
 * For a container in pid mode TARGET (`kubectl debug --target`): the PID namespace file of the
 * target container's main process, as the pod's OCI runtime sees it (on the host for runc, in
 * the guest for a VM pod). The target must be a running container of the same pod.
 */
export async function targetPidNamespace(ctx: ServerContext, podId: string, handler: RuntimeHandler, config: ContainerConfig): Promise<string | undefined> {
  const options = config.linux?.securityContext?.namespaceOptions;
  if (options?.pid !== NamespaceMode.TARGET) return undefined;
  const targetId = options.targetId;
  if (targetId === '') throw new InvalidArgumentError('namespace_options.pid is TARGET but namespace_options.target_id is empty');
  const target = ctx.state.containers.find(targetId);
  if (target === undefined || target.podId !== podId) {
    throw new NotFoundError(`namespace_options.target_id: container "${targetId}" not found in pod sandbox ${podId}`);
  }
  const state = await handler.containerState(target.id);
  if (state.status !== 'running' || state.pid <= 0) {
    throw new FailedPreconditionError(`namespace_options.target_id: container ${target.id} is ${state.status}, not running; its PID namespace cannot be joined`);
  }
  return `/proc/${state.pid}/ns/pid`;
}
