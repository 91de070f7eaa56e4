// Turns an untyped TOML table into a Config, or fails naming the first bad key. Every key
// read is checked off, so a misspelt option is an error rather than silently ignored.
import { isAbsolute } from 'node:path';
import { ALL_CAPABILITIES } from '../system/linux-capabilities';
import { LOG_FORMATS, LOG_LEVELS } from '../system/logger';
import { MAX_PORT } from '../system/tcp-port';
import {
  CGROUP_MANAGERS,
  HANDLER_TYPES,
  OCI_HANDLER_DEFAULTS,
  VM_ACCELERATORS,
  VM_HANDLER_DEFAULTS,
  VM_SHARED_FILESYSTEMS,
  defaultConfig,
  type Config,
  type HandlerConfig,
  type VmHandlerConfig,
} from './config';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly problem: string,
    /** The file the value came from, when it came from one. */
    readonly source?: string,
  ) {
    super(source ? `${source}: ${key}: ${problem}` : `${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Table = Record<string, unknown>;

// A unix socket address holds at most 107 bytes of path (sun_path is 108 with its NUL).
const MAX_SOCKET_PATH = 107;
// QEMU's q35 takes up to 288 vCPUs; guest memory below 128 MiB cannot hold the agent's Node.
const MAX_VM_VCPUS = 288;
const MIN_VM_MEMORY_MIB = 128;
const MAX_VM_MEMORY_MIB = 1024 * 1024;
// Each warm clone is a running VM: a few dozen is already more memory than most nodes spare.
const MAX_WARM_CLONES = 64;
// RuntimeClass handler names must be DNS labels (Kubernetes validates them the same way).
const HANDLER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const KNOWN_CAPABILITIES = new Set(ALL_CAPABILITIES);
// A helper bound past the kubelet's own request timeout (2 min, 4 for a pod) would only ever
// cut in after the kubelet gave up; an hour leaves room for an operator's odd case.
const MAX_HELPER_TIMEOUT_SECONDS = 3600;

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Reads one TOML table, remembering which keys were consumed. */
class TableReader {
  private readonly seen = new Set<string>();

  constructor(
    private readonly values: Table,
    private readonly prefix: string,
  ) {}

  keyOf(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  private take(name: string): unknown {
    this.seen.add(name);
    return this.values[name];
  }

  string(name: string, fallback: string, check?: (value: string) => string | undefined): string {
    const value = this.take(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'string') throw new ConfigError(this.keyOf(name), `expected a string, got ${describe(value)}`);
    const problem = check?.(value);
    if (problem) throw new ConfigError(this.keyOf(name), problem);
    return value;
  }

  path(name: string, fallback: string): string {
    return this.string(name, fallback, absolutePathProblem);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(name, fallback, (v) =>
      (allowed as readonly string[]).includes(v) ? undefined : `expected one of ${allowed.join(', ')}, got "${v}"`,
    );
    return value as T;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.take(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new ConfigError(this.keyOf(name), `expected true or false, got ${describe(value)}`);
    return value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.take(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(this.keyOf(name), `expected an integer from ${min} to ${max}, got ${describe(value)}`);
    }
    return value;
  }

  pathList(name: string, fallback: string[]): string[] {
    const value = this.list(name, fallback, absolutePathProblem);
    if (value.length === 0) throw new ConfigError(this.keyOf(name), 'expected a non-empty array of absolute paths');
    return value;
  }

  stringList(name: string, fallback: string[], check: (value: string) => string | undefined = nonEmptyProblem): string[] {
    return this.list(name, fallback, check);
  }

  private list(name: string, fallback: string[], check: (value: string) => string | undefined): string[] {
    const value = this.take(name);
    if (value === undefined) return fallback;
    if (!Array.isArray(value)) throw new ConfigError(this.keyOf(name), `expected an array of strings, got ${describe(value)}`);
    return value.map((item, index) => {
      const problem = typeof item === 'string' ? check(item) : `expected a string, got ${describe(item)}`;
      if (problem) throw new ConfigError(`${this.keyOf(name)}[${index}]`, problem);
      return item as string;
    });
  }

  table(name: string): TableReader {
    const value = this.take(name) ?? {};
    if (!isTable(value)) throw new ConfigError(this.keyOf(name), `expected a table, got ${describe(value)}`);
    return new TableReader(value, this.keyOf(name));
  }

  entries(): [string, unknown][] {
    for (const name of Object.keys(this.values)) this.seen.add(name);
    return Object.entries(this.values);
  }

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  /** Fails on the first key nobody read. */
  finish(): void {
    for (const name of Object.keys(this.values)) {
      if (!this.seen.has(name)) throw new ConfigError(this.keyOf(name), 'unknown option');
    }
  }
}

function nonEmptyProblem(value: string): string | undefined {
  return value === '' ? 'must not be empty' : undefined;
}

// Capabilities as Kubernetes spells them: the kernel's names without CAP_.
function capabilityProblem(value: string): string | undefined {
  return KNOWN_CAPABILITIES.has(`CAP_${value}`) ? undefined : `expected a capability name without CAP_ (e.g. NET_BIND_SERVICE), got "${value}"`;
}

// AppArmor profile names become part of policy text and securityfs paths.
function profileNameProblem(value: string): string | undefined {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) ? undefined : `expected a profile name of letters, digits, '.', '_' and '-', got "${value}"`;
}

function absolutePathProblem(value: string): string | undefined {
  return value !== '' && isAbsolute(value) ? undefined : `expected an absolute path, got "${value}"`;
}

function socketPathProblem(value: string): string | undefined {
  const problem = absolutePathProblem(value);
  if (problem) return problem;
  const length = Buffer.byteLength(value);
  return length > MAX_SOCKET_PATH ? `path is ${length} bytes, a unix socket allows at most ${MAX_SOCKET_PATH}` : undefined;
}

/** host:port, with an IPv6 host in brackets; port 0 asks for any free port. */
export function addressProblem(value: string): string | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > MAX_PORT) return `expected host:port (e.g. 127.0.0.1:0 or [::1]:10010), got "${value}"`;
  return undefined;
}

function optionalPathProblem(value: string): string | undefined {
  return value === '' ? undefined : absolutePathProblem(value);
}

function optionalAddressProblem(value: string): string | undefined {
  return value === '' ? undefined : addressProblem(value);
}

// A kernel parameter is one word of the command line: key or key=value.
function kernelParamProblem(value: string): string | undefined {
  return /^[^\s=]+(=\S*)?$/.test(value) ? undefined : `expected one kernel parameter (key or key=value, no spaces), got "${value}"`;
}

function readHandler(reader: TableReader): HandlerConfig {
  if (!reader.has('type')) throw new ConfigError(reader.keyOf('type'), `required: one of ${HANDLER_TYPES.join(', ')}`);
  const type = reader.oneOf('type', HANDLER_TYPES, 'oci');
  if (type === 'oci') {
    if (!reader.has('runtime_path')) throw new ConfigError(reader.keyOf('runtime_path'), 'required for an oci handler');
    return {
      type,
      runtime_path: reader.path('runtime_path', ''),
      monitor_path: reader.path('monitor_path', OCI_HANDLER_DEFAULTS.monitor_path),
      runtime_timeout_seconds: reader.integer('runtime_timeout_seconds', OCI_HANDLER_DEFAULTS.runtime_timeout_seconds, 1, MAX_HELPER_TIMEOUT_SECONDS),
    };
  }
  const vm: VmHandlerConfig = {
    type,
    qemu_path: reader.path('qemu_path', VM_HANDLER_DEFAULTS.qemu_path),
    kernel_path: reader.path('kernel_path', VM_HANDLER_DEFAULTS.kernel_path),
    initrd_path: reader.path('initrd_path', VM_HANDLER_DEFAULTS.initrd_path),
    guest_root: reader.path('guest_root', VM_HANDLER_DEFAULTS.guest_root),
    accelerator: reader.oneOf('accelerator', VM_ACCELERATORS, VM_HANDLER_DEFAULTS.accelerator),
    vcpus: reader.integer('vcpus', VM_HANDLER_DEFAULTS.vcpus, 1, MAX_VM_VCPUS),
    memory_mib: reader.integer('memory_mib', VM_HANDLER_DEFAULTS.memory_mib, MIN_VM_MEMORY_MIB, MAX_VM_MEMORY_MIB),
    kernel_params: reader.stringList('kernel_params', VM_HANDLER_DEFAULTS.kernel_params, kernelParamProblem),
    shared_fs: reader.oneOf('shared_fs', VM_SHARED_FILESYSTEMS, VM_HANDLER_DEFAULTS.shared_fs),
    template: reader.boolean('template', VM_HANDLER_DEFAULTS.template),
    warm_clones: reader.integer('warm_clones', VM_HANDLER_DEFAULTS.warm_clones, 0, MAX_WARM_CLONES),
  };
  if (vm.warm_clones > 0 && !vm.template) throw new ConfigError(reader.keyOf('warm_clones'), 'warm clones are clones of the template: set template = true or warm_clones = 0');
  return vm;
}

function readHandlers(reader: TableReader, fallback: Record<string, HandlerConfig>): Record<string, HandlerConfig> {
  const entries = reader.entries();
  // A handlers table in the file replaces the built-in one, so an operator can drop runc.
  if (entries.length === 0) return fallback;
  const handlers: Record<string, HandlerConfig> = {};
  for (const [name, value] of entries) {
    if (!HANDLER_NAME.test(name)) throw new ConfigError(reader.keyOf(name), 'handler names must be DNS labels (a-z, 0-9, -)');
    if (!isTable(value)) throw new ConfigError(reader.keyOf(name), `expected a table, got ${describe(value)}`);
    const handlerReader = new TableReader(value, reader.keyOf(name));
    handlers[name] = readHandler(handlerReader);
    handlerReader.finish();
  }
  return handlers;
}

export function validateConfig(raw: Table): Config {
  const defaults = defaultConfig();
  const top = new TableReader(raw, '');
  const log = top.table('log');
  const network = top.table('network');
  const image = top.table('image');
  const pod = top.table('pod');
  const container = top.table('container');
  const runtime = top.table('runtime');
  const handlers = runtime.table('handlers');
  const streaming = top.table('streaming');
  const metrics = top.table('metrics');

  const config: Config = {
    socket: top.string('socket', defaults.socket, socketPathProblem),
    root: top.path('root', defaults.root),
    runroot: top.path('runroot', defaults.runroot),
    cgroup_manager: top.oneOf('cgroup_manager', CGROUP_MANAGERS, defaults.cgroup_manager),
    shutdown_timeout_seconds: top.integer('shutdown_timeout_seconds', defaults.shutdown_timeout_seconds, 0, 3600),
    unclaimed_result_seconds: top.integer('unclaimed_result_seconds', defaults.unclaimed_result_seconds, 1, 86400),
    log: {
      level: log.oneOf('level', LOG_LEVELS, defaults.log.level),
      format: log.oneOf('format', LOG_FORMATS, defaults.log.format),
    },
    network: {
      cni_config_dir: network.path('cni_config_dir', defaults.network.cni_config_dir),
      cni_plugin_dirs: network.pathList('cni_plugin_dirs', defaults.network.cni_plugin_dirs),
      default_network: network.string('default_network', defaults.network.default_network),
      plugin_timeout_seconds: network.integer('plugin_timeout_seconds', defaults.network.plugin_timeout_seconds, 1, MAX_HELPER_TIMEOUT_SECONDS),
    },
    image: {
      registries_conf: image.path('registries_conf', defaults.image.registries_conf),
      registries_conf_dir: image.path('registries_conf_dir', defaults.image.registries_conf_dir),
      pause_image: image.string('pause_image', defaults.image.pause_image, nonEmptyProblem),
      pinned_images: image.stringList('pinned_images', defaults.image.pinned_images),
      max_parallel_downloads: image.integer('max_parallel_downloads', defaults.image.max_parallel_downloads, 1, 64),
      pull_progress_timeout_seconds: image.integer('pull_progress_timeout_seconds', defaults.image.pull_progress_timeout_seconds, 0, 86400),
    },
    pod: {
      shm_size_bytes: pod.integer('shm_size_bytes', defaults.pod.shm_size_bytes, 1024 * 1024, 64 * 1024 * 1024 * 1024),
      unprivileged_ports: pod.boolean('unprivileged_ports', defaults.pod.unprivileged_ports),
      unprivileged_icmp: pod.boolean('unprivileged_icmp', defaults.pod.unprivileged_icmp),
    },
    container: {
      default_capabilities: container.stringList('default_capabilities', defaults.container.default_capabilities, capabilityProblem),
      apparmor_profile: container.string('apparmor_profile', defaults.container.apparmor_profile, profileNameProblem),
    },
    runtime: {
      default_handler: runtime.string('default_handler', defaults.runtime.default_handler),
      handlers: readHandlers(handlers, defaults.runtime.handlers),
    },
    streaming: {
      address: streaming.string('address', defaults.streaming.address, addressProblem),
      tls_cert_file: streaming.string('tls_cert_file', defaults.streaming.tls_cert_file, optionalPathProblem),
      tls_key_file: streaming.string('tls_key_file', defaults.streaming.tls_key_file, optionalPathProblem),
    },
    metrics: {
      address: metrics.string('address', defaults.metrics.address, optionalAddressProblem),
      stats_sample_interval_seconds: metrics.integer('stats_sample_interval_seconds', defaults.metrics.stats_sample_interval_seconds, 1, 3600),
    },
  };
  for (const reader of [top, log, network, image, pod, container, runtime, streaming, metrics]) reader.finish();

  if ((config.streaming.tls_cert_file === '') !== (config.streaming.tls_key_file === '')) {
    const missing = config.streaming.tls_cert_file === '' ? 'streaming.tls_cert_file' : 'streaming.tls_key_file';
    throw new ConfigError(missing, 'tls_cert_file and tls_key_file go together: set both or neither');
  }
  if (config.root === config.runroot) throw new ConfigError('runroot', `must differ from root (both are ${config.root})`);
  if (!(config.runtime.default_handler in config.runtime.handlers)) {
    const known = Object.keys(config.runtime.handlers).join(', ');
    throw new ConfigError('runtime.default_handler', `"${config.runtime.default_handler}" is not a configured handler (configured: ${known})`);
  }
  return config;
}
