// What a CRI request may hold, checked before a verb makes anything. The limits are generous
// enough for every request the kubelet sends and tight enough that no request can hurt the
// daemon or the tools it runs (file names, exec's argument limits, the size of List answers).
// A refusal is an InvalidArgumentError naming the field, in the proto's snake_case, and what is
// wrong with it.
import { isIP } from 'node:net';
import { posix } from 'node:path';
import { isHostname } from '../system/hostname';
import { validateDns } from '../oci/pod-files';
import {
  MountPropagation,
  NamespaceMode,
  Protocol,
  type ContainerConfig,
  type Int64Value,
  type LinuxContainerResources,
  type Mount,
  type PodSandboxConfig,
  type PortMapping,
} from '../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../system/errors';
import { MAX_PORT } from '../system/tcp-port';

/** One string or bytes field: Linux's own limit on one argument or environment string (MAX_ARG_STRLEN). */
const MAX_STRING_BYTES = 128 * 1024;
/** The keys and values of one map together: twice the 256 KiB Kubernetes allows a pod's annotations. */
const MAX_MAP_BYTES = 512 * 1024;
/** The entries of one list: a namespace's service links alone can give a container thousands of variables. */
const MAX_LIST_ENTRIES = 16 * 1024;
/** A pod's name, namespace and UID and a container's name: the longest name Kubernetes gives anything. */
const MAX_NAME_BYTES = 253;
/** A path and one of its components, as Linux takes them (PATH_MAX with its NUL, NAME_MAX). */
const MAX_PATH_BYTES = 4095;
const MAX_PATH_COMPONENT_BYTES = 255;
/** A process's arguments and environment together: half of what exec takes with the usual 8 MiB stack. */
const MAX_PROCESS_BYTES = 1024 * 1024;
/** The longest wait a Node timer takes (about 24.8 days); one asked to wait longer fires at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Pod and container IDs: any longer value names nothing. */
const ID_LENGTH = 64;

// cpu.shares as cgroup v1 takes it (runc maps it onto v2's weights); the kubelet's own bounds.
const MIN_CPU_SHARES = 2n;
const MAX_CPU_SHARES = 262_144n;
// The CFS period the kernel takes, in microseconds.
const MIN_CPU_PERIOD_US = 1000n;
const MAX_CPU_PERIOD_US = 1_000_000n;
// The CFS quota: the kubelet's floor, and the kernel's ceiling (2^44 - 1 µs); -1 is no quota.
const MIN_CPU_QUOTA_US = 1000n;
const MAX_CPU_QUOTA_US = (1n << 44n) - 1n;
// What runc and a container's first process need at least (CRI-O's floor too); at most 4 EiB,
// far above any machine and still below int64's ceiling once written as a JSON number.
const MIN_MEMORY_LIMIT_BYTES = 12n * 1024n * 1024n;
const MAX_MEMORY_BYTES = 1n << 62n;
// The kernel's range for oom_score_adj.
const MIN_OOM_SCORE_ADJ = -1000n;
const MAX_OOM_SCORE_ADJ = 1000n;
// The highest CPU or memory node a cpuset may name: Linux's largest NR_CPUS.
const MAX_CPUSET_INDEX = 8191;
// A user or group ID, as Kubernetes and runc bound it.
const MAX_ID_VALUE = 2n ** 31n - 1n;

const CPUSET = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;
// Page sizes as the kubelet and runc name them ("2MB", "1GB"): part of a cgroup file name.
const HUGEPAGE_SIZE = /^[1-9]\d*[KMGTP]B$/;
// A cgroup v2 file of a controller ("memory.high", "io.max"): a plain name in the container's
// cgroup directory. The core's own cgroup.* files move and kill processes; they are no limits.
const UNIFIED_KEY = /^(?!cgroup\.)[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
// '/' would make a path of it; ';' and '=' delimit the CNI_ARGS the pod's names are passed in.
const NAME_FORBIDDEN = /[/;=\p{Cc}]/u;
const CONTROL = /\p{Cc}/u;
// Maps in CRI messages are plain objects, told from messages only by their field names.
const MAP_FIELDS = new Set(['labels', 'annotations', 'sysctls', 'unified', 'info', 'labelSelector']);
const ID_FIELDS = new Set(['podSandboxId', 'containerId']);
const QUOTED_CHARS = 80;

/** A value for a message: quoted, and cut short when long. */
export function quoted(value: string): string {
  return JSON.stringify(value.length > QUOTED_CHARS ? `${value.slice(0, QUOTED_CHARS)}…` : value);
}

function kib(bytes: number): string {
  return `${bytes / 1024} KiB`;
}

function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function byteLength(value: string): number {
  // Three bytes at most per UTF-16 unit: a short string needs no counting.
  return value.length * 3 <= MAX_STRING_BYTES ? value.length : Buffer.byteLength(value);
}

function stringProblem(value: string, field: string, wire: Buffer): string | undefined {
  if (value.includes('\0')) return `${field} contains a NUL byte`;
  // The decoder puts U+FFFD where it met invalid UTF-8: such a string's own encoding is not in
  // the bytes received, as one that really holds U+FFFD is.
  if (value.includes('\uFFFD') && !wire.includes(Buffer.from(value))) return `${field} is not valid UTF-8`;
  if (byteLength(value) > MAX_STRING_BYTES) return `${field} is longer than ${kib(MAX_STRING_BYTES)}`;
  return undefined;
}

function mapProblem(map: object, field: string, wire: Buffer): string | undefined {
  let total = 0;
  for (const [key, value] of Object.entries(map)) {
    const entry = `${field}[${quoted(key)}]`;
    const problem = stringProblem(key, `${entry} (the key)`, wire) ?? (typeof value === 'string' ? stringProblem(value, entry, wire) : undefined);
    if (problem !== undefined) return problem;
    total += Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
    if (total > MAX_MAP_BYTES) return `${field} holds more than ${kib(MAX_MAP_BYTES)} of keys and values`;
  }
  return undefined;
}

function fieldProblem(value: unknown, field: string, wire: Buffer): string | undefined {
  if (typeof value === 'string') return stringProblem(value, field, wire);
  if (value instanceof Uint8Array) {
    if (value.includes(0)) return `${field} contains a NUL byte`;
    return value.length > MAX_STRING_BYTES ? `${field} is longer than ${kib(MAX_STRING_BYTES)}` : undefined;
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_LIST_ENTRIES) return `${field} has ${value.length} entries; at most ${MAX_LIST_ENTRIES} are allowed`;
    for (const [index, entry] of value.entries()) {
      const problem = fieldProblem(entry, `${field}[${index}]`, wire);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, entry] of Object.entries(value)) {
    const path = field === '' ? snakeCase(key) : `${field}.${snakeCase(key)}`;
    if (ID_FIELDS.has(key) && typeof entry === 'string' && entry.length > ID_LENGTH) return `${path} is longer than an ID (${ID_LENGTH} characters)`;
    const problem = MAP_FIELDS.has(key) && typeof entry === 'object' && entry !== null ? mapProblem(entry, path, wire) : fieldProblem(entry, path, wire);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * What is wrong with any field of a decoded request, whatever its verb: invalid UTF-8 (found
 * against `wire`, the bytes it was decoded from), a NUL, a string, list or map over its limit,
 * an ID longer than IDs are. Undefined when nothing is.
 */
export function requestProblem(request: unknown, wire: Buffer): string | undefined {
  return fieldProblem(request, '', wire);
}

function refuse(message: string): never {
  throw new InvalidArgumentError(message);
}

/** A name that becomes part of file names and of the pod's CNI arguments. */
function checkName(value: string, field: string): void {
  if (Buffer.byteLength(value) > MAX_NAME_BYTES) refuse(`${field} is longer than ${MAX_NAME_BYTES} bytes`);
  if (NAME_FORBIDDEN.test(value)) refuse(`${field} ${quoted(value)} contains '/', ';', '=' or a control character`);
}

/**
 * A path of at most PATH_MAX bytes, its components at most NAME_MAX, none of them '..':
 * absolute or relative when asked. Empty passes; callers refuse it where it must be given.
 */
export function checkPath(value: string, field: string, kind?: 'absolute' | 'relative'): void {
  if (value === '') return;
  if (kind === 'absolute' && !value.startsWith('/')) refuse(`${field} ${quoted(value)} is not an absolute path`);
  if (kind === 'relative' && value.startsWith('/')) refuse(`${field} ${quoted(value)} is not a relative path`);
  if (Buffer.byteLength(value) > MAX_PATH_BYTES) refuse(`${field} is longer than ${MAX_PATH_BYTES} bytes`);
  const components = value.split('/');
  if (components.includes('..')) refuse(`${field} ${quoted(value)} contains '..'`);
  if (components.some((component) => Buffer.byteLength(component) > MAX_PATH_COMPONENT_BYTES)) {
    refuse(`${field} has a component longer than ${MAX_PATH_COMPONENT_BYTES} bytes`);
  }
}

function checkRange(value: bigint, field: string, min: bigint, max: bigint, unit = ''): void {
  if (value < min || value > max) refuse(`${field} ${value}${unit} is outside [${min}, ${max}]${unit}`);
}

/** 0 means "not set"; any other value must be in range. */
function checkOptional(value: bigint, field: string, min: bigint, max: bigint, unit = ''): void {
  if (value !== 0n) checkRange(value, field, min, max, unit);
}

function checkCpuset(value: string, field: string): void {
  if (value === '') return;
  if (!CPUSET.test(value)) refuse(`${field} ${quoted(value)} is not a list of numbers and ranges such as "0-3,6"`);
  for (const range of value.split(',')) {
    const [first, last = first] = range.split('-').map(Number);
    if (first > last || last > MAX_CPUSET_INDEX) refuse(`${field} ${quoted(value)}: ${range} is not a range within [0, ${MAX_CPUSET_INDEX}]`);
  }
}

/** Cgroup limits, wherever a request gives them (a container, an update, a pod's overhead). */
export function checkResources(resources: LinuxContainerResources | undefined, field: string): void {
  if (resources === undefined) return;
  checkOptional(resources.cpuShares, `${field}.cpu_shares`, MIN_CPU_SHARES, MAX_CPU_SHARES);
  checkOptional(resources.cpuPeriod, `${field}.cpu_period`, MIN_CPU_PERIOD_US, MAX_CPU_PERIOD_US, ' µs');
  if (resources.cpuQuota !== -1n) checkOptional(resources.cpuQuota, `${field}.cpu_quota`, MIN_CPU_QUOTA_US, MAX_CPU_QUOTA_US, ' µs');
  const memory = resources.memoryLimitInBytes;
  // -1 is no limit, as in OCI; the kubelet may send it to lift one.
  if (memory !== -1n) checkOptional(memory, `${field}.memory_limit_in_bytes`, MIN_MEMORY_LIMIT_BYTES, MAX_MEMORY_BYTES, ' bytes');
  const swap = resources.memorySwapLimitInBytes;
  // Swap is memory and swap together, so never below the memory limit.
  if (swap !== -1n) checkOptional(swap, `${field}.memory_swap_limit_in_bytes`, memory > 0n ? memory : MIN_MEMORY_LIMIT_BYTES, MAX_MEMORY_BYTES, ' bytes');
  checkRange(resources.oomScoreAdj, `${field}.oom_score_adj`, MIN_OOM_SCORE_ADJ, MAX_OOM_SCORE_ADJ);
  checkCpuset(resources.cpusetCpus, `${field}.cpuset_cpus`);
  checkCpuset(resources.cpusetMems, `${field}.cpuset_mems`);
  for (const [index, hugepages] of resources.hugepageLimits.entries()) {
    const where = `${field}.hugepage_limits[${index}]`;
    if (!HUGEPAGE_SIZE.test(hugepages.pageSize)) refuse(`${where}.page_size ${quoted(hugepages.pageSize)} is not a page size such as "2MB" or "1GB"`);
    checkRange(hugepages.limit, `${where}.limit`, 0n, MAX_MEMORY_BYTES, ' bytes');
  }
  for (const [key, value] of Object.entries(resources.unified)) {
    if (!UNIFIED_KEY.test(key)) refuse(`${field}.unified key ${quoted(key)} is not a cgroup controller's file such as "memory.high"`);
    if (CONTROL.test(value)) refuse(`${field}.unified[${quoted(key)}] contains a line break or another control character`);
  }
}

function checkIdValue(id: Int64Value | bigint | undefined, field: string): void {
  if (id === undefined) return;
  checkRange(typeof id === 'bigint' ? id : id.value, field, 0n, MAX_ID_VALUE);
}

function checkIds(context: { runAsUser?: Int64Value; runAsGroup?: Int64Value; supplementalGroups: bigint[] } | undefined, field: string): void {
  if (context === undefined) return;
  checkIdValue(context.runAsUser, `${field}.run_as_user`);
  checkIdValue(context.runAsGroup, `${field}.run_as_group`);
  for (const [index, gid] of context.supplementalGroups.entries()) checkIdValue(gid, `${field}.supplemental_groups[${index}]`);
}

function checkPortMapping(mapping: PortMapping, field: string): void {
  if (![Protocol.TCP, Protocol.UDP, Protocol.SCTP].includes(mapping.protocol)) refuse(`${field}.protocol ${mapping.protocol} is not TCP, UDP or SCTP`);
  for (const [name, port] of [['host_port', mapping.hostPort], ['container_port', mapping.containerPort]] as const) {
    if (port < 0 || port > MAX_PORT) refuse(`${field}.${name} ${port} is outside [0, ${MAX_PORT}]`);
  }
  if (mapping.hostIp !== '' && isIP(mapping.hostIp) === 0) refuse(`${field}.host_ip ${quoted(mapping.hostIp)} is not an IP address`);
}

/** Everything of a pod's config that RunPodSandbox checks before it makes anything. */
export function checkPodSandboxConfig(config: PodSandboxConfig): void {
  for (const name of ['name', 'namespace', 'uid'] as const) checkName(config.metadata?.[name] ?? '', `config.metadata.${name}`);
  // A pod on the host's network keeps the host's name: only its own UTS namespace takes this one.
  const ownUts = config.linux?.securityContext?.namespaceOptions?.network !== NamespaceMode.NODE;
  if (ownUts && config.hostname !== '' && !isHostname(config.hostname)) refuse(`config.hostname ${quoted(config.hostname)} is not a valid hostname`);
  checkPath(config.logDirectory, 'config.log_directory', 'absolute');
  if (config.dnsConfig !== undefined) validateDns(config.dnsConfig);
  for (const [index, mapping] of config.portMappings.entries()) checkPortMapping(mapping, `config.port_mappings[${index}]`);
  // A cgroupfs path ("/kubepods/burstable") or a systemd slice ("kubepods-burstable.slice"),
  // which the kernel refuses with a line break.
  const cgroupParent = config.linux?.cgroupParent ?? '';
  checkPath(cgroupParent, 'config.linux.cgroup_parent');
  if (CONTROL.test(cgroupParent)) refuse(`config.linux.cgroup_parent ${quoted(cgroupParent)} contains a control character`);
  checkResources(config.linux?.resources, 'config.linux.resources');
  checkResources(config.linux?.overhead, 'config.linux.overhead');
  checkIds(config.linux?.securityContext, 'config.linux.security_context');
}

/** A command line and environment exec can take. */
export function checkProcess(args: string[], env: { key: string; value: Uint8Array }[], field: string): void {
  let total = 0;
  for (const arg of args) total += Buffer.byteLength(arg) + 1;
  for (const [index, { key, value }] of env.entries()) {
    if (key === '' || key.includes('=')) refuse(`${field}.envs[${index}].key ${quoted(key)} is empty or contains '='`);
    total += Buffer.byteLength(key) + value.length + 2;
  }
  if (total > MAX_PROCESS_BYTES) refuse(`${field}: the command, arguments and environment hold more than ${kib(MAX_PROCESS_BYTES)}`);
}

/** A timeout in seconds, in milliseconds: never negative, and cut to the longest wait a timer takes. */
export function timeoutMs(seconds: bigint, field: string): number {
  if (seconds < 0n) refuse(`${field} ${seconds} s is negative`);
  return Math.min(MAX_TIMEOUT_MS, Number(seconds) * 1000);
}

function checkMount(mount: Mount, field: string, privileged: boolean): void {
  checkPath(mount.containerPath, `${field}.container_path`, 'absolute');
  // runc cannot set a container up with its root covered: its /proc would be gone.
  if (posix.normalize(mount.containerPath) === '/') refuse(`${field}.container_path ${quoted(mount.containerPath)} would cover the container's root filesystem`);
  checkPath(mount.hostPath, `${field}.host_path`, 'absolute');
  // Mounts made in the container then reach the host, as Kubernetes allows only a privileged one.
  if (mount.propagation === MountPropagation.PROPAGATION_BIDIRECTIONAL && !privileged) refuse(`${field}.propagation: bidirectional propagation needs a privileged container`);
}

/** Everything of a container's config that CreateContainer checks before it makes anything. */
export function checkContainerConfig(config: ContainerConfig): void {
  checkName(config.metadata?.name ?? '', 'config.metadata.name');
  checkProcess([...config.command, ...config.args], config.envs, 'config');
  checkPath(config.workingDir, 'config.working_dir', 'absolute');
  checkPath(config.logPath, 'config.log_path', 'relative');
  const context = config.linux?.securityContext;
  for (const [index, mount] of config.mounts.entries()) checkMount(mount, `config.mounts[${index}]`, context?.privileged ?? false);
  for (const [index, device] of config.devices.entries()) {
    checkPath(device.containerPath, `config.devices[${index}].container_path`, 'absolute');
    checkPath(device.hostPath, `config.devices[${index}].host_path`, 'absolute');
  }
  checkResources(config.linux?.resources, 'config.linux.resources');
  checkIds(context, 'config.linux.security_context');
  for (const [name, paths] of [['masked_paths', context?.maskedPaths ?? []], ['readonly_paths', context?.readonlyPaths ?? []]] as const) {
    for (const [index, path] of paths.entries()) checkPath(path, `config.linux.security_context.${name}[${index}]`, 'absolute');
  }
}
