import { type InterfaceCounters, namespaceInterfaces } from '../network/interface-stats';
import { POD_INTERFACE } from '../network/network-manager';
import type { NetworkInterfaceUsage, NetworkUsage } from '../proto/gen/cri-api-v1';
import type { PodRecord } from '../state/pod-record';
import { errorMessage } from '../system/errors';
import type { ServerContext } from './context';
import { handlerOfPod } from './pod-sandbox';
import { podContainers } from './pod-status-snapshot';

/**
 * The interfaces of a running pod's own network namespace (for a VM pod also the TAP its VM
 * uses); none for a pod on the host's network, whose traffic is the node's, or one stopped.
 */
export async function podInterfaces(ctx: ServerContext, pod: PodRecord): Promise<InterfaceCounters[]> {
  const netns = pod.namespaces.network;
  if (pod.state !== 'ready' || netns === undefined) return [];
  try {
    // Its containers are in its namespace; a VM pod's pids are the guest's, no use on the host.
    const handler = handlerOfPod(ctx, pod);
    const running = handler.type === 'oci' ? podContainers(ctx, pod.id).filter((container) => container.state === 'running') : [];
    const pids = await Promise.all(running.map((container) => handler.containerPid(container.id).catch(() => 0)));
    return await namespaceInterfaces(netns, pids.filter((pid) => pid > 0));
  } catch (error) {
    // A pod being stopped as it is read: its figures are gone, the rest of the answer is not.
    ctx.logger.warn('pod network counters unreadable', { pod_id: pod.id, netns, error: errorMessage(error) });
    return [];
  }
}

const interfaceUsage = (counters: InterfaceCounters): NetworkInterfaceUsage => ({
  name: counters.name,
  rxBytes: { value: counters.rxBytes },
  rxErrors: { value: counters.rxErrors },
  txBytes: { value: counters.txBytes },
  txErrors: { value: counters.txErrors },
});

/** The pod's interfaces as CRI reports them: the one CNI made (eth0) as the default, the others besides. */
export function criNetworkUsage(interfaces: InterfaceCounters[], timestamp: bigint): NetworkUsage | undefined {
  if (interfaces.length === 0) return undefined;
  const main = interfaces.find((counters) => counters.name === POD_INTERFACE);
  return {
    timestamp,
    defaultInterface: main && interfaceUsage(main),
    interfaces: interfaces.filter((counters) => counters !== main).map(interfaceUsage),
  };
}
