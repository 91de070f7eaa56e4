import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const COMMAND_TIMEOUT_MS = 15000;

/** Runs a command (no shell) and returns its stdout; a failure rejects with its stderr. */
export async function command(file: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(file, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' });
  return stdout;
}

/** Runs a command inside a pinned network namespace. */
export function inNetns(netns: string, args: string[]): Promise<string> {
  return command('nsenter', [`--net=${netns}`, '--', ...args]);
}

export async function netnsNames(): Promise<string[]> {
  return (await command('ip', ['netns', 'list'])).split('\n').map((line) => line.split(' ')[0]).filter((name) => name !== '');
}

/** Every line of the host's iptables rules (filter, nat, mangle, ...) containing `text`. */
export async function iptablesLinesWith(text: string): Promise<string[]> {
  return (await command('iptables-save', [])).split('\n').filter((line) => line.includes(text));
}

/** The host-side interfaces enslaved to a bridge (one veth per attached pod). */
export async function bridgePorts(bridge: string): Promise<string[]> {
  const out = await command('ip', ['-o', 'link', 'show', 'master', bridge]).catch(() => '');
  return out.split('\n').filter((line) => line !== '').map((line) => line.split(': ')[1].split('@')[0]);
}

/** host-local's lease files (one per leased IP, holding the container ID) that mention `podId`. */
export async function leasesOf(dataDir: string, network: string, podId: string): Promise<string[]> {
  const dir = join(dataDir, network);
  const entries = await readdir(dir).catch(() => []);
  const leases: string[] = [];
  for (const entry of entries) {
    if ((await readFile(join(dir, entry), 'utf8')).includes(podId)) leases.push(entry);
  }
  return leases;
}

/** The mount points in this process's mount namespace. */
export async function mountPoints(): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((line) => line.split(' ')[4]).filter((point) => point !== undefined);
}

/** A TCP port nothing listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Deletes the test bridges (named `prefix`...) that hold an address in the /24 `subnet`: a run
 * killed before its clean-up leaves its bridge with the subnet's gateway address, and the host
 * would route the next run's traffic to it. Any other interface there is an error naming it.
 */
export async function clearSubnet(subnet: string, prefix: string): Promise<void> {
  const net = subnet.replace(/\.0\/24$/, '.');
  const links = JSON.parse(await command('ip', ['-j', '-4', 'addr', 'show'])) as { ifname: string; addr_info: { local: string }[] }[];
  for (const link of links.filter((entry) => entry.addr_info.some((info) => info.local.startsWith(net)))) {
    if (!link.ifname.startsWith(prefix)) throw new Error(`${link.ifname} already holds an address in ${subnet}`);
    await command('ip', ['link', 'delete', link.ifname]);
  }
}

/** What a TCP server sends before it closes; nothing when nothing answers. */
export function receiveFrom(host: string, port: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, host);
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => resolve(Buffer.alloc(0)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}
