import type { Config } from '../config/config';
import type { RuntimeHandlers } from '../oci/handlers';
import type { DaemonState } from '../state/daemon-state';
import type { ImageManager } from '../storage/image-manager';
import type { Logger } from '../system/logger';

/** What every verb may use. `config` is replaced as a whole when SIGHUP reloads it. */
export interface ServerContext {
  config: Config;
  readonly version: string;
  readonly logger: Logger;
  readonly state: DaemonState;
  readonly handlers: RuntimeHandlers;
  readonly images: ImageManager;
}
