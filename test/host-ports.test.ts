import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { HostPortHolder } from '../network/host-ports';
import type { PortMapping } from '../network/port-mapping';
import { newId } from '../system/ids';
import { FailedPreconditionError } from '../system/errors';
import { freePort } from './support/net-tools';

const tcp = (hostPort: number, hostIp = ''): PortMapping => ({ protocol: 'tcp', containerPort: 80, hostPort, hostIp });
const udp = (hostPort: number): PortMapping => ({ protocol: 'udp', containerPort: 53, hostPort, hostIp: '' });

/** What another program on the node gets when it tries to listen on the port: busybox nc's exit status and message. */
function otherProcessListens(port: number, protocol: 'tcp' | 'udp'): Promise<{ listened: boolean; message: string }> {
  const args = ['nc', ...(protocol === 'udp' ? ['-u'] : []), '-l', '-p', String(port)];
  return new Promise((resolve) => {
    // nc that could bind waits for a peer until the timeout kills it; one that could not exits at once.
    execFile('busybox', args, { timeout: 1000, encoding: 'utf8' }, (error, _stdout, stderr) => {
      const killed = error !== null && error.killed === true;
      resolve({ listened: error === null || killed, message: stderr.trim() });
    });
  });
}

/** Whether this process itself can listen on the TCP port now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

describe('HostPortHolder', () => {
  const holder = new HostPortHolder();
  const pods: string[] = [];

  function pod(): string {
    const podId = newId();
    pods.push(podId);
    return podId;
  }

  afterAll(async () => {
    for (const podId of pods) await holder.release(podId);
  });

  test('held ports cannot be taken by another program on the node', async () => {
    const [tcpPort, udpPort] = [await freePort(), await freePort()];
    await holder.hold(pod(), [tcp(tcpPort), udp(udpPort)]);
    const tcpAttempt = await otherProcessListens(tcpPort, 'tcp');
    expect(tcpAttempt.listened).toBe(false);
    expect(tcpAttempt.message).toMatch(/in use/i);
    expect((await otherProcessListens(udpPort, 'udp')).listened).toBe(false);
  });

  test('a second pod asking for a held port is refused, naming it, and holds nothing', async () => {
    const [shared, other] = [await freePort(), await freePort()];
    await holder.hold(pod(), [tcp(shared)]);
    const second = pod();
    await expect(holder.hold(second, [tcp(other), tcp(shared)])).rejects.toThrow(new FailedPreconditionError(`host port ${shared}/tcp is in use`));
    expect(await canListen(other)).toBe(true);
    // Refused once, the pod can ask again later (here with a port that is free).
    await holder.hold(second, [tcp(other)]);
    expect(await canListen(other)).toBe(false);
  });

  test('a port held on one address is named with that address', async () => {
    const port = await freePort();
    await holder.hold(pod(), [tcp(port, '127.0.0.1')]);
    await expect(holder.hold(pod(), [tcp(port, '127.0.0.1')])).rejects.toThrow(`host port 127.0.0.1:${port}/tcp is in use`);
  });

  test('released ports can be taken again, and releasing twice is fine', async () => {
    const port = await freePort();
    const first = pod();
    await holder.hold(first, [tcp(port)]);
    expect(await canListen(port)).toBe(false);
    await holder.release(first);
    await holder.release(first);
    expect(await canListen(port)).toBe(true);
    await holder.hold(pod(), [tcp(port)]);
    expect(await canListen(port)).toBe(false);
  });
});
