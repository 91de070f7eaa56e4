import type { ContainerExit, RuntimeHandler } from '../oci/runtime-handler';
import { errorMessage } from '../system/errors';
import { recordExit } from './container-lifecycle';
import type { ServerContext } from './context';

async function onExit(ctx: ServerContext, handler: RuntimeHandler, exit: ContainerExit): Promise<void> {
  try {
    // conmon notes an OOM kill beside the exit; the runtime's state carries it.
    const state = await handler.containerState(exit.id).catch(() => undefined);
    await recordExit(ctx, exit.id, exit.exitCode, exit.at, state?.oomKilled ?? false);
  } catch (error) {
    ctx.logger.error('cannot record a container exit', { container_id: exit.id, error: errorMessage(error) });
  }
}

/**
 * Follows every handler's container exits, including those that happened while the daemon was
 * down; returns the function that stops following them.
 */
export async function followContainerExits(ctx: ServerContext): Promise<() => void> {
  const stops: (() => void)[] = [];
  for (const handler of ctx.handlers.list()) {
    stops.push(handler.watchExits((exit) => void onExit(ctx, handler, exit)));
    for (const exit of await handler.pendingExits()) await onExit(ctx, handler, exit);
  }
  return () => stops.forEach((stop) => stop());
}
