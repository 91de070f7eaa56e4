import { type Socket as UdpSocket, createSocket } from 'node:dgram';
import { type Server, createServer, isIPv6 } from 'node:net';
import { AlreadyExistsError, FailedPreconditionError, InternalError, InvalidArgumentError, PodvisorError, errorMessage } from '../system/errors';
import { type PortMapping, describeHostPort, publishedMappings } from './port-mapping';

type HeldPort = { kind: 'tcp'; server: Server } | { kind: 'udp'; socket: UdpSocket };

function bindFailure(mapping: PortMapping, error: unknown): PodvisorError {
  const port = describeHostPort(mapping);
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new FailedPreconditionError(`host port ${port} is in use`);
    case 'EADDRNOTAVAIL':
      return new InvalidArgumentError(`host port ${port}: ${mapping.hostIp} is not an address of this node`);
    default:
      return new InternalError(`cannot hold host port ${port}: ${errorMessage(error)}`);
  }
}

function bindAddress(mapping: PortMapping): string {
  return mapping.hostIp === '' ? '0.0.0.0' : mapping.hostIp;
}

function holdTcp(mapping: PortMapping): Promise<HeldPort> {
  return new Promise((resolve, reject) => {
    const server = createServer((connection) => {
      // Traffic for a published port is DNATed to the pod before it could reach us; anything
      // that does arrive (say, before the portmap rules exist) is refused, not left hanging.
      connection.destroy();
    });
    server.once('error', reject);
    server.listen({ host: bindAddress(mapping), port: mapping.hostPort, exclusive: true }, () => {
      server.off('error', reject);
      // Holding a port must not be what keeps the daemon's process alive.
      server.unref();
      resolve({ kind: 'tcp', server });
    });
  });
}

function holdUdp(mapping: PortMapping): Promise<HeldPort> {
  return new Promise((resolve, reject) => {
    const address = bindAddress(mapping);
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', reuseAddr: false });
    socket.once('error', reject);
    socket.bind({ address, port: mapping.hostPort, exclusive: true }, () => {
      socket.off('error', reject);
      socket.unref();
      resolve({ kind: 'udp', socket });
    });
  });
}

function releasePort(port: HeldPort): Promise<void> {
  return new Promise((resolve) => {
    if (port.kind === 'tcp') port.server.close(() => resolve());
    else port.socket.close(() => resolve());
  });
}

/**
 * Keeps each running pod's host ports bound by the daemon, as podman does, so no other process
 * on the node can take a port the pod's DNAT rules already send elsewhere.
 */
export class HostPortHolder {
  private readonly held = new Map<string, HeldPort[]>();

  /** Binds every published port of the pod; if one cannot be bound, none stays held. */
  async hold(podId: string, mappings: PortMapping[]): Promise<void> {
    if (this.held.has(podId)) throw new AlreadyExistsError(`host ports of pod ${podId} are held already`);
    const unique = new Map(publishedMappings(mappings).map((mapping) => [describeHostPort(mapping), mapping]));
    const ports: HeldPort[] = [];
    // Claimed before the first await so a concurrent hold for the same pod is refused.
    this.held.set(podId, ports);
    try {
      for (const mapping of unique.values()) {
        // SCTP sockets are not available to Node; the portmap plugin's rules still publish them.
        if (mapping.protocol === 'sctp') continue;
        try {
          ports.push(await (mapping.protocol === 'tcp' ? holdTcp(mapping) : holdUdp(mapping)));
        } catch (error) {
          throw bindFailure(mapping, error);
        }
        if (this.held.get(podId) !== ports) throw new FailedPreconditionError(`pod ${podId} released its host ports while they were being held`);
      }
    } catch (error) {
      if (this.held.get(podId) === ports) this.held.delete(podId);
      await Promise.all(ports.splice(0).map(releasePort));
      throw error;
    }
  }

  /** Frees the pod's host ports; a pod holding none is fine. */
  async release(podId: string): Promise<void> {
    const ports = this.held.get(podId);
    if (ports === undefined) return;
    this.held.delete(podId);
    // Emptied in place: a hold still in progress for this pod then closes only what it adds later.
    await Promise.all(ports.splice(0).map(releasePort));
  }
}
