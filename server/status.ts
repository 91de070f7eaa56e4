import { findCniNetwork } from '../network/cni-config';
import type { RuntimeCondition, StatusRequest, StatusResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';

async function runtimeReady(ctx: ServerContext): Promise<RuntimeCondition> {
  const readiness = await ctx.handlers.default.readiness();
  return {
    type: 'RuntimeReady',
    status: readiness.ready,
    reason: readiness.ready ? '' : 'RuntimeHandlerNotReady',
    message: readiness.message,
  };
}

// Read afresh on every call, so NetworkReady follows the directory as configs come and go.
async function networkReady(ctx: ServerContext): Promise<RuntimeCondition> {
  const cni = await findCniNetwork(ctx.config.network.cni_config_dir, ctx.config.network.default_network);
  return {
    type: 'NetworkReady',
    status: cni.ready,
    reason: cni.ready ? '' : 'NetworkPluginNotReady',
    message: cni.ready ? '' : `Network plugin returns error: ${cni.message}`,
  };
}

export async function status(ctx: ServerContext, request: StatusRequest): Promise<StatusResponse> {
  const conditions = await Promise.all([runtimeReady(ctx), networkReady(ctx)]);
  const info: Record<string, string> = {};
  if (request.verbose) {
    info.config = JSON.stringify(ctx.config);
    const handlers: Record<string, unknown> = {};
    for (const handler of ctx.handlers.list()) handlers[handler.name] = { type: handler.type, ...(await handler.readiness()) };
    info.runtimeHandlers = JSON.stringify(handlers);
    // Shaped as UpdateRuntimeConfig's runtime_config, which is where it came from.
    info.runtimeConfig = JSON.stringify({ networkConfig: { podCidr: ctx.state.runtimeConfig.current.podCidr } });
  }
  // The empty name stands for the default handler, which pods without a RuntimeClass get.
  const listed = [{ name: '', handler: ctx.handlers.default }, ...ctx.handlers.list().map((handler) => ({ name: handler.name, handler }))];
  return {
    status: { conditions },
    info,
    runtimeHandlers: await Promise.all(listed.map(async ({ name, handler }) => ({ name, features: await handler.features() }))),
    features: { supplementalGroupsPolicy: false, userNamespacesHostNetwork: false },
  };
}
