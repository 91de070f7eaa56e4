/** A container port published on the node, as the CRI's PortMapping describes it. */
export interface PortMapping {
  protocol: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  hostPort: number;
  /** The node address to publish on; empty means every address. */
  hostIp: string;
}

/** The mappings that publish anything: in the CRI a host port of 0 means "not published". */
export function publishedMappings(mappings: PortMapping[]): PortMapping[] {
  return mappings.filter((mapping) => mapping.hostPort !== 0);
}

/** How a user names a host port in messages: "8080/tcp", or "127.0.0.1:8080/tcp" with an address. */
export function describeHostPort(mapping: PortMapping): string {
  const address = mapping.hostIp === '' ? '' : mapping.hostIp.includes(':') ? `[${mapping.hostIp}]:` : `${mapping.hostIp}:`;
  return `${address}${mapping.hostPort}/${mapping.protocol}`;
}
