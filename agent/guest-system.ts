import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { GuestDetails, OnlineCpusMemoryResult, Route } from '../proto/gen/agent';
import { invalid, notFound } from './agent-error';
import { isHostname } from '../system/hostname';
import { waitUntil } from '../system/wait-until';
import { runProgram } from './run-program';

export const AGENT_VERSION = '0.1.0';
const NET_DIR = '/sys/class/net';
const CPU_DIR = '/sys/devices/system/cpu';
const MEMORY_DIR = '/sys/devices/system/memory';
const MOUNT = '/bin/mount';
// What the guest kernel takes to find hot-plugged vCPUs and DIMMs, under TCG included.
const HOTPLUG_WAIT_MS = 10_000;
const HOTPLUG_POLL_MS = 100;
// busybox's applets, from the initramfs.
const IP = '/bin/ip';
const DATE = '/bin/date';

async function readTrimmed(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
}

export async function guestDetails(): Promise<GuestDetails> {
  const blockSize = await readTrimmed(join(MEMORY_DIR, 'block_size_bytes'));
  return {
    kernelRelease: release(),
    agentVersion: AGENT_VERSION,
    onlineCpus: cpus().length,
    memoryBytes: BigInt(totalmem()),
    memoryBlockSizeBytes: blockSize === undefined ? 0n : BigInt(`0x${blockSize}`),
  };
}

/** The guest has no clock it can trust at boot (nor after a VM is cloned): the host's is set. */
export async function setTime(unixMs: bigint): Promise<void> {
  await runProgram(DATE, ['-u', '-s', `@${unixMs / 1000n}`]);
}

/** Mixed into the kernel's pool, so two guests never start from the same randomness. */
export async function reseedRandom(seed: Uint8Array): Promise<void> {
  await writeFile('/dev/urandom', seed);
}

/** Writes `state` to each entry's `file` whose content is `from`; returns how many changed. */
async function setStates(paths: string[], from: string, state: string): Promise<number> {
  let count = 0;
  for (const path of paths) {
    if ((await readTrimmed(path)) !== from) continue;
    await writeFile(path, state);
    count += 1;
  }
  return count;
}

/** Entries of `dir` named PREFIX<n>, in numeric order. */
async function numbered(dir: string, prefix: string): Promise<string[]> {
  const pattern = new RegExp(`^${prefix}(\\d+)$`);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => pattern.test(name));
  return names.sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length))).map((name) => join(dir, name));
}

/** Memory the guest kernel knows of, online or not. */
async function memoryPresentMiB(): Promise<number> {
  const blockSize = Number.parseInt((await readTrimmed(join(MEMORY_DIR, 'block_size_bytes'))) ?? '0', 16);
  return ((await numbered(MEMORY_DIR, 'memory')).length * blockSize) / (1024 * 1024);
}

/** Hot-plugged vCPUs and DIMMs reach the guest kernel through ACPI a moment after QEMU plugs them. */
async function waitForHotplug(present: { cpus: number; memoryMiB: number }): Promise<void> {
  const found = async (): Promise<boolean> => (await numbered(CPU_DIR, 'cpu')).length >= present.cpus && (await memoryPresentMiB()) >= present.memoryMiB;
  // What has not come by then is onlined later, at the next resize.
  await waitUntil(found, HOTPLUG_WAIT_MS, HOTPLUG_POLL_MS);
}

/**
 * Brings hot-plugged memory blocks online, movable so they can be unplugged again, and keeps
 * `cpus` vCPUs online (all of them for 0). cpu0 cannot go offline and has no `online` file.
 */
export async function onlineCpusMemory(cpus: number, present: { cpus: number; memoryMiB: number }): Promise<OnlineCpusMemoryResult> {
  await waitForHotplug(present);
  const cpuDirs = await numbered(CPU_DIR, 'cpu');
  const wanted = cpus === 0 ? cpuDirs.length : cpus;
  const switchable = cpuDirs.slice(1).map((dir) => join(dir, 'online'));
  const cpusOnlined = await setStates(switchable.slice(0, wanted - 1), '0', '1');
  await setStates(switchable.slice(Math.max(0, wanted - 1)), '1', '0');
  const memoryBlocksOnlined = await setStates((await numbered(MEMORY_DIR, 'memory')).map((dir) => join(dir, 'state')), 'offline', 'online_movable');
  const online = await Promise.all(switchable.map((path) => readTrimmed(path)));
  return { cpusOnlined, memoryBlocksOnlined, cpusOnline: 1 + online.filter((state) => state === '1').length };
}

/** The guest interface the host gave this MAC. */
async function interfaceByMac(mac: string): Promise<string> {
  const wanted = mac.toLowerCase();
  for (const name of await readdir(NET_DIR)) {
    if ((await readTrimmed(join(NET_DIR, name, 'address'))) === wanted) return name;
  }
  throw notFound(`no guest interface has MAC ${mac}`);
}

/** The VM's one NIC: the only interface backed by a device (a bridge or veth a container made has none). */
async function podNic(): Promise<string> {
  const names = await readdir(NET_DIR);
  const withDevice = await Promise.all(names.map((name) => readdir(join(NET_DIR, name, 'device')).then(() => name, () => undefined)));
  const nics = withDevice.filter((name): name is string => name !== undefined);
  if (nics.length !== 1) throw notFound(`the guest has ${nics.length} NICs (${nics.join(', ') || 'none'}), expected one`);
  return nics[0];
}

const CIDR = /^[0-9a-fA-F:.]+\/\d{1,3}$/;

/**
 * The NIC takes the pod interface's MAC here, not on QEMU's command line: a VM cloned from a
 * template comes up with the template's.
 */
export async function updateInterface(mac: string, mtu: number, addresses: string[]): Promise<void> {
  const bad = addresses.find((address) => !CIDR.test(address));
  if (bad !== undefined) throw invalid(`address "${bad}" is not in CIDR notation`);
  const name = await podNic();
  await runProgram(IP, ['link', 'set', 'dev', 'lo', 'up']);
  if ((await readTrimmed(join(NET_DIR, name, 'address'))) !== mac.toLowerCase()) await runProgram(IP, ['link', 'set', 'dev', name, 'address', mac]);
  if (mtu > 0) await runProgram(IP, ['link', 'set', 'dev', name, 'mtu', String(mtu)]);
  await runProgram(IP, ['address', 'flush', 'dev', name, 'scope', 'global']);
  for (const address of addresses) await runProgram(IP, [address.includes(':') ? '-6' : '-4', 'address', 'add', address, 'dev', name]);
  await runProgram(IP, ['link', 'set', 'dev', name, 'up']);
}

export async function updateRoutes(mac: string, routes: Route[]): Promise<void> {
  const name = await interfaceByMac(mac);
  for (const route of routes) {
    if (route.destination !== 'default' && !CIDR.test(route.destination)) throw invalid(`route destination "${route.destination}" is neither CIDR nor default`);
    const family = route.destination.includes(':') || route.gateway.includes(':') ? '-6' : '-4';
    const via = route.gateway === '' ? [] : ['via', route.gateway];
    await runProgram(IP, [family, 'route', 'replace', route.destination, ...via, 'dev', name]);
  }
}

export async function setHostname(hostname: string): Promise<void> {
  if (!isHostname(hostname)) throw invalid(`hostname ${JSON.stringify(hostname)} is not a hostname the kernel takes`);
  // Written as the host does for runc pods: hostname(1) would read a leading '-' as an option.
  await writeFile('/proc/sys/kernel/hostname', hostname);
  await writeFile('/etc/hostname', `${hostname}\n`);
}

// A sysctl name: dotted words, as the kubelet validates them.
const SYSCTL_NAME = /^[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*$/;

/** Sets the pod's sysctls on the guest, whose kernel is the pod's alone. */
export async function setSysctls(sysctls: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(sysctls)) {
    if (!SYSCTL_NAME.test(name)) throw invalid(`sysctl ${JSON.stringify(name)} is not a sysctl name`);
    await writeFile(join('/proc/sys', ...name.split('.')), value).catch((error: unknown) => {
      throw invalid(`cannot set sysctl ${name}=${value}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }
}

/** The pod's /dev/shm: one tmpfs for all its containers, as they share the guest's IPC namespace. */
export async function makePodShm(path: string, sizeBytes: bigint): Promise<void> {
  await mkdir(path, { recursive: true });
  const size = sizeBytes > 0n ? [`size=${sizeBytes}`] : [];
  await runProgram(MOUNT, ['-t', 'tmpfs', '-o', ['nosuid', 'nodev', 'noexec', 'mode=1777', ...size].join(','), 'shm', path]);
}

const POD_FILE_NAMES = new Set(['hosts', 'resolv.conf', 'hostname']);

/** The pod's hosts, resolv.conf and hostname, in the guest's own files for the containers to bind-mount. */
export async function writePodFiles(dir: string, files: Record<string, Uint8Array>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const [name, content] of Object.entries(files)) {
    if (!POD_FILE_NAMES.has(name)) throw invalid(`pod file ${JSON.stringify(name)} is not one the agent writes`);
    // Containers run as any user: the files must be world-readable.
    await writeFile(join(dir, name), content, { mode: 0o644 });
  }
}
