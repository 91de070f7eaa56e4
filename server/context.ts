import type { HostSecurity } from '../apparmor/host-security';
import type { Config } from '../config/config';
import type { HostPortHolder } from '../network/host-ports';
import type { NetworkManager } from '../network/network-manager';
import type { RuntimeHandlers } from '../oci/handlers';
import type { DaemonState } from '../state/daemon-state';
import type { ImageManager } from '../storage/image-manager';
import type { StreamServer } from '../streaming/stream-server';
import type { ContainerEvents } from './container-events';
import type { ContainerRemovals } from './container-removals';
import type { KeptCreates } from './kept-creates';
import type { Logger } from '../system/logger';

/** What every verb may use. `config` is replaced as a whole when SIGHUP reloads it. */
export interface ServerContext {
  config: Config;
  readonly version: string;
  readonly logger: Logger;
  readonly state: DaemonState;
  readonly handlers: RuntimeHandlers;
  readonly images: ImageManager;
  readonly network: NetworkManager;
  readonly hostPorts: HostPortHolder;
  readonly events: ContainerEvents;
  /** Removed containers whose parts are taken apart after RemoveContainer answered. */
  readonly removals: ContainerRemovals;
  /** AppArmor and SELinux as this host runs them. */
  readonly security: HostSecurity;
  /** Where Exec, Attach and PortForward send their clients. */
  readonly streams: StreamServer;
  /** Pods and containers made for clients that gave up, kept for their retries. */
  readonly kept: { readonly pods: KeptCreates; readonly containers: KeptCreates };
}
