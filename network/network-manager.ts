import { FailedPreconditionError, InternalError, InvalidArgumentError, errorMessage } from '../system/errors';
import type { Logger } from '../system/logger';
import { type CniConfList, type CniPluginConfig, findCniNetwork, isObject, parseConfList } from './cni-config';
import { counter, histogram } from '../system/metrics-registry';
import { type CniCommand, type PluginInvocation, invokePlugin, parseCniResult } from './cni-plugins';
import { type PortMapping, publishedMappings } from './port-mapping';

export type { PortMapping } from './port-mapping';

/** Traffic shaping for the pod's interface, in bits per second and bits, as the bandwidth plugin takes it. */
export interface Bandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

export interface PodNetworkRequest {
  podId: string;
  name: string;
  namespace: string;
  uid: string;
  /** Path of the pod's pinned network namespace. */
  netns: string;
  portMappings: PortMapping[];
  bandwidth?: Bandwidth;
}

/** Everything needed to tear the network down later, exactly as it was set up (persist it in the pod record). */
export interface PodNetworkAttachment {
  network: string;
  configFile: string;
  /** The config list used at ADD time. */
  config: unknown;
  ips: string[];
  /** The last plugin's ADD result. */
  result: unknown;
}

export interface NetworkManagerOptions {
  configDir: string;
  pluginDirs: string[];
  defaultNetwork: string;
  logger: Logger;
  pluginTimeoutMs?: number;
}

// A plugin call does local work (links, addresses, iptables); one taking a minute is hung.
const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;

// The pod's interface name, as every Kubernetes runtime names it.
export const POD_INTERFACE = 'eth0';

/** CNI_ARGS as the kubelet's other runtimes set it, so plugins that read K8S_* find them. */
function cniArgs(request: PodNetworkRequest): string {
  const pairs: Array<[string, string]> = [
    ['K8S_POD_NAMESPACE', request.namespace],
    ['K8S_POD_NAME', request.name],
    ['K8S_POD_INFRA_CONTAINER_ID', request.podId],
    ['K8S_POD_UID', request.uid],
  ];
  for (const [key, value] of pairs) {
    // ';' and '=' delimit CNI_ARGS; a value holding one would be read as another argument.
    if (/[;=]/.test(value)) throw new InvalidArgumentError(`${key} value "${value}" may not contain ';' or '='`);
  }
  return ['IgnoreUnknown=1', ...pairs.map(([key, value]) => `${key}=${value}`)].join(';');
}

/** The runtimeConfig a plugin gets: only what its declared capabilities ask for. */
function runtimeConfigFor(plugin: CniPluginConfig, request: PodNetworkRequest): Record<string, unknown> {
  const capabilities = isObject(plugin.capabilities) ? plugin.capabilities : {};
  const runtimeConfig: Record<string, unknown> = {};
  const mappings = publishedMappings(request.portMappings);
  if (capabilities.portMappings === true && mappings.length > 0) {
    runtimeConfig.portMappings = mappings.map((mapping) => ({
      hostPort: mapping.hostPort,
      containerPort: mapping.containerPort,
      protocol: mapping.protocol,
      hostIP: mapping.hostIp,
    }));
  }
  if (capabilities.bandwidth === true && request.bandwidth !== undefined) runtimeConfig.bandwidth = { ...request.bandwidth };
  return runtimeConfig;
}

function pluginInput(list: CniConfList, plugin: CniPluginConfig, request: PodNetworkRequest, prevResult: unknown): Record<string, unknown> & { type: string } {
  const input: Record<string, unknown> & { type: string } = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const runtimeConfig = runtimeConfigFor(plugin, request);
  if (Object.keys(runtimeConfig).length > 0) input.runtimeConfig = runtimeConfig;
  if (prevResult !== undefined) input.prevResult = prevResult;
  return input;
}

function savedConfig(request: PodNetworkRequest, attachment: PodNetworkAttachment): CniConfList {
  const config = parseConfList(attachment.config, `saved network config of pod ${request.podId}`, true);
  if (typeof config === 'string') throw new InternalError(config);
  return config;
}

/** Connects pods to the configured CNI network by running its plugins ourselves. */
const cniDuration = histogram('podvisor_cni_operation_duration_seconds', 'Duration of CNI ADD and DEL through a network\'s plugin chain.');
const cniFailures = counter('podvisor_cni_operation_failures_total', 'CNI ADD and DEL that failed.');

/** Runs one ADD or DEL through the chain, timed, and counted when it fails. */
async function measuredCni(operation: CniCommand, work: () => Promise<void>): Promise<void> {
  try {
    await cniDuration.time({ operation }, work);
  } catch (error) {
    cniFailures.inc({ operation });
    throw error;
  }
}

export class NetworkManager {
  private readonly timeoutMs: number;

  constructor(private readonly options: NetworkManagerOptions) {
    this.timeoutMs = options.pluginTimeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  }

  /**
   * The network a pod joins: the default one as configured now, with no IPs yet. Recorded before
   * ADD, so that DEL can undo an ADD that a crash cut short.
   */
  async choose(): Promise<PodNetworkAttachment> {
    const found = await findCniNetwork(this.options.configDir, this.options.defaultNetwork);
    if (!found.ready) throw new FailedPreconditionError(found.message);
    const { network } = found;
    return { network: network.name, configFile: network.file, config: network.config, ips: [], result: undefined };
  }

  /**
   * CNI ADD on the chosen network (by default, choose's); if it fails midway, runs DEL so nothing
   * (veth, IP lease, iptables rule) is left, then throws with the plugin's message.
   */
  async attach(request: PodNetworkRequest, chosen?: PodNetworkAttachment): Promise<PodNetworkAttachment> {
    const network = chosen ?? (await this.choose());
    const config = savedConfig(request, network);
    const invocation = this.invocation('ADD', request);
    let result: unknown;
    try {
      await measuredCni('ADD', async () => {
        for (const plugin of config.plugins) {
          result = await invokePlugin(pluginInput(config, plugin, request, result), invocation);
        }
      });
    } catch (error) {
      this.options.logger.warn('pod network setup failed; undoing it', { pod_id: request.podId, network: network.network, error: errorMessage(error) });
      // The undo's own failures are logged one by one; the caller needs the reason ADD failed.
      await this.deleteChain(config, request, result).catch(() => undefined);
      throw error;
    }
    const { ips } = parseCniResult(result);
    this.options.logger.info('pod network attached', { pod_id: request.podId, network: network.network, ips });
    return { ...network, ips, result };
  }

  /**
   * CNI DEL with the saved attachment (config as used at ADD time), idempotent: DEL of something
   * already gone, or of an ADD that never finished (no result), succeeds.
   */
  async detach(request: PodNetworkRequest, attachment: PodNetworkAttachment): Promise<void> {
    await this.deleteChain(savedConfig(request, attachment), request, attachment.result);
    this.options.logger.info('pod network detached', { pod_id: request.podId, network: attachment.network });
  }

  private invocation(command: CniCommand, request: PodNetworkRequest): PluginInvocation {
    return {
      command,
      containerId: request.podId,
      netns: request.netns,
      ifName: POD_INTERFACE,
      args: cniArgs(request),
      pluginDirs: this.options.pluginDirs,
      timeoutMs: this.timeoutMs,
    };
  }

  /**
   * DEL through the chain in reverse. Every plugin gets its DEL even after one fails, so a
   * single broken plugin does not strand what the others made; the first failure is thrown.
   */
  private async deleteChain(config: CniConfList, request: PodNetworkRequest, result: unknown): Promise<void> {
    const invocation = this.invocation('DEL', request);
    await measuredCni('DEL', async () => {
      const failures: unknown[] = [];
      for (const plugin of [...config.plugins].reverse()) {
        try {
          await invokePlugin(pluginInput(config, plugin, request, result), invocation);
        } catch (error) {
          failures.push(error);
          this.options.logger.warn('CNI plugin DEL failed', { pod_id: request.podId, network: config.name, plugin: plugin.type, error: errorMessage(error) });
        }
      }
      if (failures.length > 0) throw failures[0];
    });
  }
}
