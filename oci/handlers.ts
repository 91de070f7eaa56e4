import type { HandlerConfig } from '../config/config';
import { ConmonHandler } from './conmon-handler';
import type { RuntimeHandler } from './runtime-handler';
import { VmHandler } from './vm-handler';

/** The configured runtime handlers by name, in configuration order. */
export function createRuntimeHandlers(configs: Record<string, HandlerConfig>): Map<string, RuntimeHandler> {
  const handlers = new Map<string, RuntimeHandler>();
  for (const [name, config] of Object.entries(configs)) {
    handlers.set(name, config.type === 'oci' ? new ConmonHandler(name, config) : new VmHandler(name, config));
  }
  return handlers;
}
