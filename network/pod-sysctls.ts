import type { Config } from '../config/config';

// Linux's widest group range: every group may open ICMP echo sockets.
const ALL_GROUPS = '0 2147483647';

/**
 * The sysctls set in a pod's namespaces: the runtime's defaults for a pod network namespace of
 * its own (none on the host network, which is the node's), under the pod's own, which win.
 */
export function podSysctls(own: Record<string, string>, settings: Config['pod'], ownNetwork: boolean): Record<string, string> {
  const defaults: Record<string, string> = {};
  if (ownNetwork && settings.unprivileged_ports) defaults['net.ipv4.ip_unprivileged_port_start'] = '0';
  if (ownNetwork && settings.unprivileged_icmp) defaults['net.ipv4.ping_group_range'] = ALL_GROUPS;
  return { ...defaults, ...own };
}
