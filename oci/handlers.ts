import type { Config } from '../config/config';
import { InvalidArgumentError } from '../system/errors';
import { ConmonHandler } from './conmon/conmon-handler';
import type { HandlerEnvironment, RuntimeHandler } from './runtime-handler';
import { VmHandler } from './vm/vm-handler';

/** The configured runtime handlers, in configuration order, and which one is the default. */
export class RuntimeHandlers {
  private readonly byName = new Map<string, RuntimeHandler>();
  readonly default: RuntimeHandler;

  constructor(runtime: Config['runtime'], environment: HandlerEnvironment) {
    for (const [name, config] of Object.entries(runtime.handlers)) {
      this.byName.set(name, config.type === 'oci' ? new ConmonHandler(name, config, environment) : new VmHandler(name, config, environment));
    }
    // Config validation guarantees the default is one of them.
    this.default = this.resolve(runtime.default_handler);
  }

  /** The handler a pod asks for by RuntimeClass handler name; '' means the default. */
  resolve(name: string): RuntimeHandler {
    if (name === '') return this.default;
    const handler = this.byName.get(name);
    if (!handler) throw new InvalidArgumentError(`runtime handler "${name}" is not configured (configured: ${[...this.byName.keys()].join(', ')})`);
    return handler;
  }

  /** The handler of that name, if it is still configured. */
  find(name: string): RuntimeHandler | undefined {
    return this.byName.get(name);
  }

  list(): RuntimeHandler[] {
    return [...this.byName.values()];
  }
}
