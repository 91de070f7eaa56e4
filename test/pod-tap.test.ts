import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError } from '../system/errors';
import { connectTap, disconnectTap, readPodInterface } from '../oci/vm/pod-tap';
import { command, inNetns } from './support/net-tools';

const TAP = 'tap0_pv';
const POD_IP = '10.219.40.2';
const PEER_IP = '10.219.40.1';
const POD_IP6 = 'fd00:219:40::2';

interface Redirect {
  pref: number;
  to: string | undefined;
}

/** The mirred redirects on a device's ingress, from `tc -j filter show`. */
async function redirects(netns: string, device: string): Promise<Redirect[]> {
  const filters = JSON.parse(await inNetns(netns, ['tc', '-j', 'filter', 'show', 'dev', device, 'parent', 'ffff:'])) as {
    pref: number;
    options?: { actions?: { kind: string; to_dev?: string }[] };
  }[];
  return filters
    .filter((filter) => filter.options?.actions !== undefined)
    .map((filter) => ({ pref: filter.pref, to: filter.options?.actions?.find((action) => action.kind === 'mirred')?.to_dev }));
}

async function linkNames(netns: string): Promise<string[]> {
  return (JSON.parse(await inNetns(netns, ['ip', '-j', 'link', 'show'])) as { ifname: string }[]).map((link) => link.ifname);
}

async function hasIngressQdisc(netns: string, device: string): Promise<boolean> {
  return (JSON.parse(await inNetns(netns, ['tc', '-j', 'qdisc', 'show', 'dev', device])) as { kind: string }[]).some((qdisc) => qdisc.kind === 'ingress');
}

/** Reads frames from QEMU's stream netdev: each is a 4-byte big-endian length and the frame. */
function frameReader(socket: Socket): { next: (want: (frame: Buffer) => boolean, timeoutMs: number) => Promise<Buffer> } {
  let buffer = Buffer.alloc(0);
  const frames: Buffer[] = [];
  const waiters = new Set<() => void>();
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 4 && buffer.length >= 4 + buffer.readUInt32BE(0)) {
      frames.push(buffer.subarray(4, 4 + buffer.readUInt32BE(0)));
      buffer = buffer.subarray(4 + buffer.readUInt32BE(0));
    }
    for (const wake of waiters) wake();
  });
  return {
    async next(want, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = frames.findIndex(want);
        if (index >= 0) return frames.splice(index, 1)[0];
        if (Date.now() > deadline) throw new Error('no such frame arrived');
        await Promise.race([new Promise<void>((resolve) => waiters.add(resolve)), sleep(200)]);
        waiters.clear();
      }
    },
  };
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((part) => parseInt(part, 16)));
}

function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

const isArpRequestFor = (ip: string) => (frame: Buffer) =>
  frame.readUInt16BE(12) === 0x0806 && frame.readUInt16BE(20) === 1 && frame.subarray(38, 42).equals(ipv4Bytes(ip));

const isUdpTo = (ip: string) => (frame: Buffer) => frame.readUInt16BE(12) === 0x0800 && frame[23] === 17 && frame.subarray(30, 34).equals(ipv4Bytes(ip));

// The peer sends UDP datagrams to the pod (no ping on this machine): each needs the pod's MAC first.
const SENDER = `
const socket = require('node:dgram').createSocket('udp4');
const timer = setInterval(() => socket.send('hello', 9, process.argv[1]), 300);
setTimeout(() => { clearInterval(timer); socket.close(); }, 20000);
`;

/** The ARP answer a guest holding `ip` at `mac` gives to `request`. */
function arpReply(request: Buffer, mac: string, ip: string): Buffer {
  const asker = request.subarray(6, 12);
  const askerIp = request.subarray(28, 32);
  const header = Buffer.from([0, 1, 8, 0, 6, 4, 0, 2]);
  const ethertype = Buffer.from([0x08, 0x06]);
  return Buffer.concat([asker, macBytes(mac), ethertype, header, macBytes(mac), ipv4Bytes(ip), asker, askerIp]);
}

function lengthPrefixed(frame: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(frame.length);
  return Buffer.concat([length, frame]);
}

describe('pod TAP plumbing in a network namespace', () => {
  const runId = randomBytes(3).toString('hex');
  const podNs = `pvtap-${runId}`;
  const peerNs = `pvtap-${runId}-peer`;
  const hostVeth = `pvtap${runId}`;
  let dir: string;
  // A bind mount of the namespace outside /var/run/netns, as CNI namespaces may be.
  let netns: string;
  let peer: string;
  const processes: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pvtap-'));
    await command('ip', ['netns', 'add', podNs]);
    await command('ip', ['netns', 'add', peerNs]);
    netns = join(dir, 'netns');
    await writeFile(netns, '');
    await command('mount', ['--bind', `/var/run/netns/${podNs}`, netns]);
    peer = `/var/run/netns/${peerNs}`;
    await command('ip', ['link', 'add', hostVeth, 'netns', peerNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs]);
    await inNetns(peer, ['ip', 'address', 'add', `${PEER_IP}/24`, 'dev', hostVeth]);
    await inNetns(peer, ['ip', 'link', 'set', 'dev', hostVeth, 'up']);
    await inNetns(netns, ['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1450', 'up']);
    await inNetns(netns, ['ip', 'address', 'add', `${POD_IP}/24`, 'dev', 'eth0']);
    await inNetns(netns, ['ip', 'address', 'add', `${POD_IP6}/64`, 'dev', 'eth0', 'nodad']);
    await inNetns(netns, ['ip', 'route', 'add', 'default', 'via', PEER_IP, 'dev', 'eth0']);
  });

  afterAll(async () => {
    for (const child of processes) {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }
    await command('umount', [netns]).catch(() => undefined);
    await command('ip', ['netns', 'delete', podNs]).catch(() => undefined);
    await command('ip', ['netns', 'delete', peerNs]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the CNI interface: MAC, MTU, addresses without link-local ones, and the routes', async () => {
    const mac = (JSON.parse(await inNetns(netns, ['ip', '-j', 'link', 'show', 'dev', 'eth0'])) as { address: string }[])[0].address;
    const iface = await readPodInterface(netns);
    expect(iface.mac).toBe(mac);
    expect(iface.mtu).toBe(1450);
    expect(iface.addresses.sort()).toEqual([`${POD_IP}/24`, `${POD_IP6}/64`]);
    expect(iface.routes).toEqual(
      expect.arrayContaining([
        { destination: 'default', gateway: PEER_IP, device: 'eth0' },
        { destination: '10.219.40.0/24', gateway: '', device: 'eth0' },
        { destination: 'fd00:219:40::/64', gateway: '', device: 'eth0' },
      ]),
    );
    expect(iface.routes.some((route) => route.destination.startsWith('fe80:'))).toBe(false);
  });

  it('says which is missing: the namespace or the interface', async () => {
    await expect(readPodInterface(join(dir, 'no-such-netns'))).rejects.toBeInstanceOf(NotFoundError);
    await expect(readPodInterface(netns, 'eth9')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('joins a TAP to eth0 both ways, and doing it again changes nothing', async () => {
    await connectTap(netns, { tapName: TAP, ifname: 'eth0' });
    const tap = (JSON.parse(await inNetns(netns, ['ip', '-j', '-d', 'link', 'show', 'dev', TAP])) as { mtu: number; flags: string[]; linkinfo: { info_kind: string } }[])[0];
    expect(tap.linkinfo.info_kind).toBe('tun');
    expect(tap.mtu).toBe(1450);
    expect(tap.flags).toContain('UP');
    const first = { fromEth0: await redirects(netns, 'eth0'), fromTap: await redirects(netns, TAP) };
    expect(first.fromEth0.map((r) => r.to)).toEqual([TAP]);
    expect(first.fromTap.map((r) => r.to)).toEqual(['eth0']);

    await connectTap(netns, { tapName: TAP, ifname: 'eth0' });
    expect({ fromEth0: await redirects(netns, 'eth0'), fromTap: await redirects(netns, TAP) }).toEqual(first);
  });

  it('mends a half-done join: a TAP made anew gets its redirect back', async () => {
    // As after a crash between steps: the TAP gone, eth0's redirect left pointing nowhere.
    await inNetns(netns, ['ip', 'link', 'delete', 'dev', TAP]);
    expect((await redirects(netns, 'eth0')).map((r) => r.to)).toEqual(['*']);
    await inNetns(netns, ['ip', 'tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
    await connectTap(netns, { tapName: TAP, ifname: 'eth0' });
    expect((await redirects(netns, 'eth0')).map((r) => r.to)).toEqual([TAP]);
    expect((await redirects(netns, TAP)).map((r) => r.to)).toEqual(['eth0']);
  });

  it('passes frames between the pod network and whatever holds the TAP', async () => {
    const { mac } = await readPodInterface(netns);
    // QEMU holds the TAP and hubs it to a stream socket we listen on, so this test plays the
    // guest's NIC.
    const streamSocket = join(dir, 'nic.sock');
    const listener = createServer();
    listener.listen(streamSocket);
    await once(listener, 'listening');
    const connected = once(listener, 'connection') as Promise<[Socket]>;
    const qemu = spawn(
      'nsenter',
      [
        `--net=${netns}`, '--', '/usr/bin/qemu-system-x86_64', '-machine', 'none', '-accel', 'tcg', '-nodefaults', '-no-user-config', '-display', 'none',
        '-netdev', `tap,id=tap,ifname=${TAP},script=no,downscript=no,vhost=off`,
        '-netdev', `stream,id=nic,server=off,addr.type=unix,addr.path=${streamSocket}`,
        '-netdev', 'hubport,id=p0,hubid=0,netdev=tap',
        '-netdev', 'hubport,id=p1,hubid=0,netdev=nic',
      ],
      { stdio: 'ignore' },
    );
    processes.push(qemu);
    const exited = once(qemu, 'exit').then(() => Promise.reject(new Error('QEMU ended before connecting its NIC')));
    exited.catch(() => undefined);
    const [nic] = await Promise.race([connected, exited]);
    listener.close();
    const frames = frameReader(nic);
    const sender = spawn('nsenter', [`--net=${peer}`, '--', process.execPath, '-e', SENDER, POD_IP], { stdio: 'ignore' });
    processes.push(sender);
    try {
      // The peer's ARP request crosses eth0 -> TAP; our answer crosses TAP -> eth0, which the
      // datagram then sent to our MAC proves.
      const request = await frames.next(isArpRequestFor(POD_IP), 15_000);
      nic.write(lengthPrefixed(arpReply(request, mac, POD_IP)));
      const datagram = await frames.next(isUdpTo(POD_IP), 15_000);
      expect(datagram.subarray(0, 6).equals(macBytes(mac))).toBe(true);
    } finally {
      nic.destroy();
      sender.kill('SIGKILL');
      qemu.kill('SIGKILL');
    }
  });

  it('unjoins: the TAP and the redirects go, eth0 stays as it was, and doing it again is fine', async () => {
    const before = await readPodInterface(netns);
    await disconnectTap(netns, TAP);
    expect(await linkNames(netns)).not.toContain(TAP);
    expect(await redirects(netns, 'eth0')).toEqual([]);
    expect(await hasIngressQdisc(netns, 'eth0')).toBe(false);
    expect(await readPodInterface(netns)).toEqual(before);

    await disconnectTap(netns, TAP);
    await disconnectTap(join(dir, 'no-such-netns'), TAP);
    expect(await linkNames(netns)).toContain('eth0');
  });
});
