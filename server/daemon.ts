import { Server, ServerCredentials } from '@grpc/grpc-js';
import { chmod, mkdir, stat, unlink } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server as NetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { HostSecurity } from '../apparmor/host-security';
import { StreamServer } from '../streaming/stream-server';
import type { Config } from '../config/config';
import { loadConfig } from '../config/load';
import type { Table } from '../config/validate';
import { RuntimeHandlers } from '../oci/handlers';
import { DaemonState } from '../state/daemon-state';
import { ImageManager } from '../storage/image-manager';
import { HostPortHolder } from '../network/host-ports';
import { NetworkManager } from '../network/network-manager';
import { errorMessage } from '../system/errors';
import { InstanceLock } from '../system/instance-lock';
import { reconfigureLogger, type Logger } from '../system/logger';
import { handOffConnection } from './connection-handoff';
import type { ServerContext } from './context';
import { keptCreates } from './kept-creates';
import { CallMetrics } from './metrics';
import { startCpuSampling } from './cpu-sampling';
import { ContainerEvents } from './container-events';
import { followContainerExits } from './container-exits';
import { followPodDeaths } from './pod-deaths';
import { recordedLeases, recoverFromCrash } from './crash-recovery';
import { ContainerRemovals } from './container-removals';
import { restorePods } from './pod-sandbox';
import { criServices } from './services';
import { claimSocketPath } from './socket';

// Both ends of the kubelet's CRI client allow 16 MiB messages; so do we.
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const SOCKET_MODE = 0o660;
// sd_booted(3): systemd is the init system exactly when this directory exists.
const SYSTEMD_RUNNING = '/run/systemd/system';

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
}

export interface DaemonOptions {
  config: Config;
  /** The config file and flag overrides, kept to read them again on SIGHUP. */
  configPath: string | undefined;
  overrides: Table;
  version: string;
  logger: Logger;
}

/**
 * Listens on the unix socket ourselves and hands each connection to the gRPC server, through
 * the authority rewriter if its client needs it (see connection-handoff.ts).
 */
async function listenUnix(server: Server, path: string, logger: Logger): Promise<NetServer> {
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener = createServer((socket) =>
    handOffConnection(
      socket,
      (connection) => injector.injectConnection(connection),
      (error) => logger.warn('client connection failed', { socket: path, error: errorMessage(error) }),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(path, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  return listener;
}

/** Config keys that only take effect on restart, for the SIGHUP warning. */
function changedKeys(before: unknown, after: unknown, prefix = ''): string[] {
  if (typeof before !== 'object' || before === null || typeof after !== 'object' || after === null) {
    return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix];
  }
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].flatMap((key) =>
    changedKeys((before as Record<string, unknown>)[key], (after as Record<string, unknown>)[key], prefix ? `${prefix}.${key}` : key),
  );
}

/** After a restart, the host ports of pods still running are taken back before anyone else can. */
async function holdRunningPodsPorts(ctx: ServerContext): Promise<void> {
  for (const pod of ctx.state.pods.list()) {
    if (pod.state !== 'ready' || pod.portMappings.length === 0) continue;
    try {
      await ctx.hostPorts.hold(pod.id, pod.portMappings);
    } catch (error) {
      ctx.logger.error('cannot hold the host ports of a running pod', { pod_id: pod.id, error: errorMessage(error) });
    }
  }
}

/** podvisord: the CRI gRPC server on its unix socket, and everything it owns while it runs. */
export class Daemon {
  private metricsServer: HttpServer | undefined;

  private constructor(
    private readonly options: DaemonOptions,
    private readonly ctx: ServerContext,
    private readonly server: Server,
    private readonly listener: NetServer,
    private readonly lock: InstanceLock,
    /** Stops following the handlers' container exits and sandbox deaths. */
    private readonly stopFollowingHandlers: () => void,
    private readonly stopCpuSampling: () => Promise<void>,
  ) {}

  static async start(options: DaemonOptions): Promise<Daemon> {
    const { config, logger } = options;
    if (config.cgroup_manager === 'systemd' && !(await isDirectory(SYSTEMD_RUNNING))) {
      throw new Error(`cgroup_manager is "systemd" but systemd is not running here (no ${SYSTEMD_RUNNING}); use "cgroupfs"`);
    }
    await mkdir(config.root, { recursive: true, mode: 0o700 });
    await mkdir(config.runroot, { recursive: true, mode: 0o711 });
    await mkdir(dirname(config.socket), { recursive: true, mode: 0o711 });

    // The socket probe first, so a second daemon started the usual way is told about the socket.
    await claimSocketPath(config.socket);
    const lock = await InstanceLock.acquire(join(config.root, 'podvisord.lock'));
    const streams = new StreamServer(
      { address: config.streaming.address, tlsCertFile: config.streaming.tls_cert_file || undefined, tlsKeyFile: config.streaming.tls_key_file || undefined },
      logger,
    );
    try {
      await streams.start();
      const state = new DaemonState(config.root, logger);
      await state.load();
      const images = await ImageManager.open(config, logger, recordedLeases(state));
      const ctx: ServerContext = {
        config,
        version: options.version,
        logger,
        state,
        handlers: new RuntimeHandlers(config.runtime, { runroot: config.runroot, cgroupManager: config.cgroup_manager, logger }),
        images,
        network: new NetworkManager({
          configDir: config.network.cni_config_dir,
          pluginDirs: config.network.cni_plugin_dirs,
          defaultNetwork: config.network.default_network,
          logger,
          pluginTimeoutMs: config.network.plugin_timeout_seconds * 1000,
        }),
        hostPorts: new HostPortHolder(),
        events: new ContainerEvents(),
        removals: new ContainerRemovals(),
        security: await HostSecurity.detect(config.container.apparmor_profile, logger),
        streams,
        kept: keptCreates(logger, () => ctx),
      };
      await restorePods(ctx);
      await recoverFromCrash(ctx);
      await holdRunningPodsPorts(ctx);
      const stopFollowingExits = await followContainerExits(ctx);
      const stopFollowingDeaths = followPodDeaths(ctx);
      const metrics = new CallMetrics();
      const server = new Server({
        'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
        'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      });
      for (const [definition, implementation] of criServices(ctx, metrics)) server.addService(definition, implementation);

      // The socket must never be reachable with looser permissions, not even between bind and chmod.
      const umask = process.umask(0o117);
      let listener: NetServer;
      try {
        listener = await listenUnix(server, config.socket, logger);
      } finally {
        process.umask(umask);
      }
      await chmod(config.socket, SOCKET_MODE);

      const stopFollowingHandlers = (): void => {
        stopFollowingExits();
        stopFollowingDeaths();
      };
      const daemon = new Daemon(options, ctx, server, listener, lock, stopFollowingHandlers, startCpuSampling(ctx));
      if (config.metrics.address !== '') {
        const served = await metrics.serve(config.metrics.address);
        daemon.metricsServer = served.server;
        logger.info('metrics served', { address: `${served.address.address}:${served.address.port}` });
      }
      logger.info('podvisord serving CRI v1', {
        socket: config.socket,
        version: options.version,
        root: config.root,
        handlers: ctx.handlers.list().map((handler) => handler.name).join(','),
        default_handler: config.runtime.default_handler,
        pods: state.pods.size,
        containers: state.containers.size,
        images: images.list().length,
        streaming: streams.url,
      });
      return daemon;
    } catch (error) {
      await streams.stop();
      await lock.release();
      await unlink(config.socket).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Stops accepting calls, lets those in flight finish for up to shutdown_timeout_seconds,
   * then cancels the rest and removes the socket.
   */
  async stop(): Promise<void> {
    const { logger } = this.ctx;
    const { socket, shutdown_timeout_seconds: seconds } = this.ctx.config;
    logger.info('podvisord shutting down', { socket, timeout_seconds: seconds });
    this.listener.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        logger.warn('calls still in flight at the shutdown timeout; cancelling them', { timeout_seconds: seconds });
        this.server.forceShutdown();
        resolve();
      }, seconds * 1000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.stopFollowingHandlers();
    // What a removal left to the background is done before leaving, not at the next start.
    await this.ctx.removals.settled();
    await this.stopCpuSampling();
    await Promise.all(this.ctx.handlers.list().map((handler) => handler.shutdown()));
    await this.ctx.streams.stop();
    if (this.metricsServer) await new Promise((resolve) => this.metricsServer?.close(resolve));
    await this.removeSocket();
    await this.lock.release();
    logger.info('podvisord stopped', { socket });
  }

  private async removeSocket(): Promise<void> {
    const path = this.ctx.config.socket;
    try {
      if ((await stat(path)).isSocket()) await unlink(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.ctx.logger.warn('cannot remove socket', { socket: path, error: errorMessage(error) });
    }
  }

  /** SIGHUP: reads the config again and applies what can change live (logging, new containers' defaults). */
  async reload(): Promise<void> {
    const { logger } = this.ctx;
    let next: Config;
    try {
      next = (await loadConfig(this.options.configPath, this.options.overrides)).config;
    } catch (error) {
      logger.error('config reload failed; keeping the running config', { error: errorMessage(error) });
      return;
    }
    const current = this.ctx.config;
    // What only new calls read changes live: logging, and the defaults of new containers.
    const applied: Config = { ...current, log: next.log, container: { ...current.container, default_capabilities: next.container.default_capabilities } };
    const needRestart = changedKeys(applied, next);
    reconfigureLogger(logger, next.log.level, next.log.format);
    this.ctx.config = applied;
    logger.info('config reloaded', { log_level: next.log.level, log_format: next.log.format, default_capabilities: next.container.default_capabilities.join(',') });
    if (needRestart.length > 0) logger.warn('changed options take effect after a restart', { keys: needRestart.join(',') });
  }
}
