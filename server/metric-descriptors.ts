import type { MetricDescriptor } from '../proto/gen/cri-api-v1';

// The labels every metric starts with, as CRI-O gives them: the kubelet adds namespace, pod and
// container itself, so that /metrics/cadvisor shows the label set cAdvisor shows.
const BASE = ['id', 'name', 'image'];

/** The metrics ListPodSandboxMetrics reports, named and labelled as cAdvisor's on /metrics/cadvisor. */
export const METRIC_DESCRIPTORS: readonly MetricDescriptor[] = [
  { name: 'container_cpu_usage_seconds_total', help: 'CPU time the container has used, in whole seconds.', labelKeys: BASE },
  { name: 'container_memory_usage_bytes', help: 'Memory the container\'s cgroup is charged for, page cache included, in bytes.', labelKeys: BASE },
  { name: 'container_memory_working_set_bytes', help: 'Memory charged less inactive file pages (what eviction looks at), in bytes.', labelKeys: BASE },
  { name: 'container_memory_rss', help: 'Anonymous memory of the container, in bytes.', labelKeys: BASE },
  { name: 'container_memory_failures_total', help: 'Page faults in the container, minor (pgfault) and major (pgmajfault).', labelKeys: [...BASE, 'failure_type', 'scope'] },
  { name: 'container_spec_memory_limit_bytes', help: 'The container\'s memory limit in bytes; 0 when it has none.', labelKeys: BASE },
  { name: 'container_processes', help: 'Processes (and threads) in the container\'s cgroup.', labelKeys: BASE },
  { name: 'container_fs_usage_bytes', help: 'Bytes the container\'s writable layer holds on the filesystem named by device.', labelKeys: [...BASE, 'device'] },
  { name: 'container_network_receive_bytes_total', help: 'Bytes the pod\'s interface has received.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_receive_packets_total', help: 'Packets the pod\'s interface has received.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_receive_errors_total', help: 'Receive errors on the pod\'s interface.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_receive_packets_dropped_total', help: 'Received packets the pod\'s interface dropped.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_transmit_bytes_total', help: 'Bytes the pod\'s interface has sent.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_transmit_packets_total', help: 'Packets the pod\'s interface has sent.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_transmit_errors_total', help: 'Transmit errors on the pod\'s interface.', labelKeys: [...BASE, 'interface'] },
  { name: 'container_network_transmit_packets_dropped_total', help: 'Packets to send that the pod\'s interface dropped.', labelKeys: [...BASE, 'interface'] },
];
