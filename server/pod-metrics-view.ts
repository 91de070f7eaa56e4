import type { InterfaceCounters } from '../network/interface-stats';
import { type ContainerMetrics, type Metric, MetricType, type PodSandboxMetrics } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import type { PodRecord } from '../state/pod-record';
import { rootfsPaths, writableLayerUsage } from '../storage/rootfs';
import { loadedContainerConfig } from './container-config';
import { containerMountPoint, containerUsage } from './container-stats-view';
import type { ServerContext } from './context';
import { matchingContainers } from './filters';
import { loadedConfig } from './pod-config';
import { podInterfaces } from './pod-network-view';

const NANOS_PER_SECOND = 1_000_000_000n;

/** Builds metrics that share their first label values (id, name, image); live readings carry timestamp 0. */
function metricsOf(base: string[]): (name: string, metricType: MetricType, value: number | bigint | undefined, ...labels: string[]) => Metric[] {
  return (name, metricType, value, ...labels) => (value === undefined ? [] : [{ name, timestamp: 0n, metricType, labelValues: [...base, ...labels], value: { value: BigInt(value) } }]);
}

/** A container's figures, read from the same cgroup and writable layer as ContainerStats. */
async function containerMetrics(ctx: ServerContext, container: ContainerRecord): Promise<ContainerMetrics> {
  const metric = metricsOf([container.id, loadedContainerConfig(container.config).metadata?.name ?? '', container.image]);
  const [{ cpu, memory, processCount }, layer, device] = await Promise.all([
    containerUsage(ctx, container),
    writableLayerUsage(rootfsPaths(container.dir)),
    containerMountPoint(container),
  ]);
  return {
    containerId: container.id,
    metrics: [
      // CRI values are whole numbers: the seconds a counter of nanoseconds has completed.
      ...metric('container_cpu_usage_seconds_total', MetricType.COUNTER, cpu && cpu.usageNanos / NANOS_PER_SECOND),
      ...metric('container_memory_usage_bytes', MetricType.GAUGE, memory?.usageBytes),
      ...metric('container_memory_working_set_bytes', MetricType.GAUGE, memory?.workingSetBytes),
      ...metric('container_memory_rss', MetricType.GAUGE, memory?.rssBytes),
      ...metric('container_memory_failures_total', MetricType.COUNTER, memory?.pageFaults, 'pgfault', 'container'),
      ...metric('container_memory_failures_total', MetricType.COUNTER, memory?.majorPageFaults, 'pgmajfault', 'container'),
      ...metric('container_spec_memory_limit_bytes', MetricType.GAUGE, memory && (memory.limitBytes ?? 0)),
      ...metric('container_processes', MetricType.GAUGE, processCount),
      ...metric('container_fs_usage_bytes', MetricType.GAUGE, layer.bytes, device),
    ],
  };
}

/** The pod's network figures, one set per interface of its namespace, as cAdvisor gives them for the pod. */
function networkMetrics(pod: PodRecord, interfaces: InterfaceCounters[]): Metric[] {
  const metric = metricsOf([pod.id, loadedConfig(pod.config).metadata?.name ?? '', '']);
  return interfaces.flatMap((counters) => [
    ...metric('container_network_receive_bytes_total', MetricType.COUNTER, counters.rxBytes, counters.name),
    ...metric('container_network_receive_packets_total', MetricType.COUNTER, counters.rxPackets, counters.name),
    ...metric('container_network_receive_errors_total', MetricType.COUNTER, counters.rxErrors, counters.name),
    ...metric('container_network_receive_packets_dropped_total', MetricType.COUNTER, counters.rxDropped, counters.name),
    ...metric('container_network_transmit_bytes_total', MetricType.COUNTER, counters.txBytes, counters.name),
    ...metric('container_network_transmit_packets_total', MetricType.COUNTER, counters.txPackets, counters.name),
    ...metric('container_network_transmit_errors_total', MetricType.COUNTER, counters.txErrors, counters.name),
    ...metric('container_network_transmit_packets_dropped_total', MetricType.COUNTER, counters.txDropped, counters.name),
  ]);
}

/** One ready pod's metrics: its network's, and each container's. */
export async function criPodSandboxMetrics(ctx: ServerContext, pod: PodRecord): Promise<PodSandboxMetrics> {
  const [interfaces, containerMetricsList] = await Promise.all([
    podInterfaces(ctx, pod),
    Promise.all(matchingContainers(ctx, { podSandboxId: pod.id }).map((container) => containerMetrics(ctx, container))),
  ]);
  return { podSandboxId: pod.id, metrics: networkMetrics(pod, interfaces), containerMetrics: containerMetricsList };
}

/** The pods the metrics are about: those running, as with cAdvisor. */
export function metricPods(ctx: ServerContext): PodRecord[] {
  return ctx.state.pods.list().filter((pod) => pod.state === 'ready');
}
