import { chmod, mkdir, readFile, realpath, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname as nodeHostname } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../system/atomic-file';
import { errorCode } from '../system/error-code';
import { InvalidArgumentError } from '../system/errors';
import { isHostname } from '../system/hostname';
import { runToolChecked } from '../system/run-tool';
import { hostResolvConf } from './host-resolv-conf';
import { unmountAll } from '../system/mount-cleanup';
import { settle } from '../system/settle';

export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface HostAlias {
  ip: string;
  hostnames: string[];
}

export interface PodFilesRequest {
  /** e.g. <runroot>/pods/<podId>, created 0700 */
  dir: string;
  hostname: string;
  dns: DnsConfig | undefined;
  hostNetwork: boolean;
  /** 0 = no private shm (host IPC) */
  shmSizeBytes: number;
  hostAliases?: HostAlias[];
}

export interface PodFiles {
  shm: string | undefined;
  resolvConf: string;
  hosts: string;
  hostname: string;
}

// The kubelet refuses more search domains than this; a longer list would be cut short by libc.
const MAX_DNS_SEARCHES = 32;
const MOUNT_TIMEOUT_MS = 30_000;
const HOST_HOSTS = '/etc/hosts';
// Containers run as any user, so the files they bind-mount must be world-readable.
const FILE_MODE = 0o644;

const LOCALHOST_ENTRIES = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

const WORD = /^[^\s\0#]+$/;

function requireWord(value: string, what: string): void {
  if (!WORD.test(value)) throw new InvalidArgumentError(`${what} "${value}" is empty or contains spaces`);
}

/** Refuses, naming it, a DNS server, search domain or option resolv.conf cannot hold. */
export function validateDns(dns: DnsConfig): void {
  for (const server of dns.servers) {
    if (isIP(server) === 0) throw new InvalidArgumentError(`DNS server "${server}" is not an IP address`);
  }
  if (dns.searches.length > MAX_DNS_SEARCHES) {
    throw new InvalidArgumentError(`${dns.searches.length} DNS search domains given ("${dns.searches.join(' ')}"); at most ${MAX_DNS_SEARCHES} are allowed`);
  }
  for (const search of dns.searches) requireWord(search, 'DNS search domain');
  for (const option of dns.options) requireWord(option, 'DNS option');
}

function validateRequest(request: PodFilesRequest): void {
  if (request.dns !== undefined) validateDns(request.dns);
  for (const alias of request.hostAliases ?? []) {
    if (isIP(alias.ip) === 0) throw new InvalidArgumentError(`host alias address "${alias.ip}" is not an IP address`);
    for (const name of alias.hostnames) requireWord(name, 'host alias name');
  }
  if (request.hostname !== '' && !isHostname(request.hostname)) throw new InvalidArgumentError(`hostname ${JSON.stringify(request.hostname)} is not one the kernel takes`);
  if (!Number.isSafeInteger(request.shmSizeBytes) || request.shmSizeBytes < 0) {
    throw new InvalidArgumentError(`shm size ${request.shmSizeBytes} is not a byte count`);
  }
}

async function resolvConfText(dns: DnsConfig | undefined): Promise<string> {
  // The kubelet sends an empty DNSConfig for dnsPolicy Default: resolve as the node does.
  if (dns === undefined || dns.servers.length + dns.searches.length + dns.options.length === 0) return hostResolvConf();
  const lines = dns.servers.map((server) => `nameserver ${server}`);
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

async function hostsText(request: PodFilesRequest): Promise<string> {
  // A pod in the host's network sees the host's addresses, so it gets the host's names for them.
  const base = request.hostNetwork ? await readFile(HOST_HOSTS, 'utf8') : `${LOCALHOST_ENTRIES.join('\n')}\n`;
  const aliases = (request.hostAliases ?? []).filter((alias) => alias.hostnames.length > 0);
  if (aliases.length === 0) return base;
  const separator = base === '' || base.endsWith('\n') ? '' : '\n';
  const lines = aliases.map((alias) => `${alias.ip}\t${alias.hostnames.join(' ')}`);
  return `${base}${separator}# host aliases of the pod\n${lines.join('\n')}\n`;
}

async function mountShm(path: string, sizeBytes: number): Promise<void> {
  const options = `mode=1777,size=${sizeBytes},nosuid,nodev,noexec`;
  await runToolChecked('mount', ['-t', 'tmpfs', '-o', options, 'shm', path], { timeoutMs: MOUNT_TIMEOUT_MS });
}

/** Writes the files and mounts shm, listing in `made` each path as soon as it exists. */
async function makeFiles(request: PodFilesRequest, files: PodFiles, made: string[]): Promise<void> {
  const hostname = request.hostname === '' ? nodeHostname() : request.hostname;
  const contents: [string, string][] = [
    [files.resolvConf, await resolvConfText(request.dns)],
    [files.hosts, await hostsText(request)],
    [files.hostname, `${hostname}\n`],
  ];
  // The pod's files live under the run root and die with its pods at a reboot: no fsync. None
  // needs another, so they are made side by side.
  const written = contents.map(async ([path, text]) => {
    await writeFileAtomic(path, text, { mode: FILE_MODE, durable: false });
    made.push(path);
  });
  await settle(files.shm === undefined ? written : [...written, makeShm(files.shm, request.shmSizeBytes, made)]);
}

async function makeShm(path: string, sizeBytes: number, made: string[]): Promise<void> {
  await mkdir(path);
  made.push(path);
  await mountShm(path, sizeBytes);
}

async function discard(dir: string, madeDir: boolean, files: PodFiles, made: string[]): Promise<void> {
  if (madeDir) return removePodFiles(dir);
  // The directory was there before (a retry after a crash): only what this call made goes.
  if (files.shm !== undefined && made.includes(files.shm)) await unmountPodShm(files);
  for (const path of made.reverse()) await rm(path, { recursive: true, force: true });
}

/**
 * Writes the resolv.conf, hosts and hostname files every container of a pod mounts, and mounts
 * the pod's private /dev/shm. On failure nothing it made is left behind.
 */
export async function createPodFiles(request: PodFilesRequest): Promise<PodFiles> {
  validateRequest(request);
  const dir = resolve(request.dir);
  const madeDir = (await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined;
  await chmod(dir, 0o700);
  const files: PodFiles = {
    shm: request.shmSizeBytes > 0 ? join(dir, 'shm') : undefined,
    resolvConf: join(dir, 'resolv.conf'),
    hosts: join(dir, 'hosts'),
    hostname: join(dir, 'hostname'),
  };
  const made: string[] = [];
  try {
    await makeFiles(request, files, made);
  } catch (error) {
    await discard(dir, madeDir, files, made).catch(() => undefined);
    throw error;
  }
  return files;
}

/** Unmounts the pod's /dev/shm (StopPodSandbox); an shm already unmounted, or none, is fine. */
export async function unmountPodShm(files: PodFiles): Promise<void> {
  if (files.shm !== undefined) await unmountAll(files.shm, false);
}

/** Unmounts whatever is still mounted in the pod's directory and deletes it; a missing directory is fine. */
export async function removePodFiles(dir: string): Promise<void> {
  let real: string;
  try {
    // The mount table names real paths; a symlinked run root must not hide a mount from us.
    real = await realpath(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  await unmountAll(real, true);
  await rm(real, { recursive: true, force: true });
}
