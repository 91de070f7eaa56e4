import type { ContainerRecord } from '../state/container-record';
import type { RuntimeHandler } from '../oci/runtime-handler';
import { FailedPreconditionError, InvalidArgumentError } from '../system/errors';
import { handlerOf } from './container-lifecycle';
import type { ServerContext } from './context';

export interface StreamChoice {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** The streams an Exec or Attach asks for, checked as the kubelet's own streaming server does. */
export function streamChoice(verb: string, request: StreamChoice): StreamChoice {
  if (!request.stdin && !request.stdout && !request.stderr) throw new InvalidArgumentError(`${verb}: one of stdin, stdout or stderr must be requested`);
  if (request.tty && request.stderr) throw new InvalidArgumentError(`${verb}: a tty has no separate stderr; tty and stderr cannot both be requested`);
  return { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, tty: request.tty };
}

/** A container that streams can reach now, and the handler that runs it. */
export function runningContainer(ctx: ServerContext, id: string): { container: ContainerRecord; handler: RuntimeHandler } {
  const container = ctx.state.containers.get(id);
  if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
  return { container, handler: handlerOf(ctx, container) };
}
