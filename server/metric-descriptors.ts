import type { MetricDescriptor } from '../proto/gen/cri-api-v1';

// The labels every metric starts with, as CRI-O gives them: the kubelet adds namespace, pod and
// container itself, so that /metrics/cadvisor shows the label set cAdvisor shows.
const BASE = ['id', 'name', 'image'];

/** The metrics ListPodSandboxMetrics reports, named and labelled as cAdvisor's on /metrics/cadvisor. */
export const METRIC_DESCRIPTORS: readonly MetricDescriptor[] = [
  { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed in seconds.', labelKeys: BASE },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.', labelKeys: BASE },
  { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', labelKeys: BASE },
  { name: 'container_memory_rss', help: 'Size of RSS in bytes.', labelKeys: BASE },
  { name: 'container_memory_failures_total', help: 'Cumulative count of memory allocation failures.', labelKeys: [...BASE, 'failure_type', 'scope'] },
  { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.', labelKeys: BASE },
  { name: 'container_processes', help: 'Number of processes running inside the container.', labelKeys: BASE },
  { name: 'container_fs_usage_bytes', help: 'Number of bytes that are consumed by the container on this filesystem.', labelKeys: [...BASE, 'device'] },
  { name: 'container_fs_inodes_total', help: 'Number of inodes used by the container on this filesystem.', labelKeys: [...BASE, 'device'] },
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting.', labelKeys: [...BASE, 'interface'] },
];
