// The daemon's configuration: its shape and its defaults. Keys are spelled exactly as in the
// TOML file (conf/podvisor.conf documents each one), so the effective configuration prints
// back as a valid file.
import { join } from 'node:path';
import type { LogFormat, LogLevel } from '../system/logger';

export const CGROUP_MANAGERS = ['cgroupfs', 'systemd'] as const;
export type CgroupManager = (typeof CGROUP_MANAGERS)[number];

export const HANDLER_TYPES = ['oci', 'vm'] as const;
export type HandlerType = (typeof HANDLER_TYPES)[number];

/** A low-level OCI runtime (runc, crun) driven through conmon. */
export interface OciHandlerConfig {
  type: 'oci';
  runtime_path: string;
  monitor_path: string;
  /** Bounds each call to the runtime (create, start, kill, delete, ...); one that overruns is killed. */
  runtime_timeout_seconds: number;
}

export const VM_ACCELERATORS = ['auto', 'kvm', 'tcg'] as const;
export type VmAccelerator = (typeof VM_ACCELERATORS)[number];

export const VM_SHARED_FILESYSTEMS = ['virtio-9p'] as const;
export type VmSharedFilesystem = (typeof VM_SHARED_FILESYSTEMS)[number];

/** Each pod in its own QEMU virtual machine, running our guest agent. */
export interface VmHandlerConfig {
  type: 'vm';
  qemu_path: string;
  kernel_path: string;
  initrd_path: string;
  /** The guest's userland (node, runc, the agent), shared read-only into every VM. */
  guest_root: string;
  /** auto: KVM where a short test boot shows it works, TCG otherwise. */
  accelerator: VmAccelerator;
  vcpus: number;
  memory_mib: number;
  /** Added to the default kernel command line; a key given here replaces the default's. */
  kernel_params: string[];
  shared_fs: VmSharedFilesystem;
  /** Pod VMs are copy-on-write clones of a template VM booted once per configuration. */
  template: boolean;
  /** Clones of the template kept booted, ready for the next pods; 0 keeps none. */
  warm_clones: number;
}

export type HandlerConfig = OciHandlerConfig | VmHandlerConfig;

export interface Config {
  socket: string;
  root: string;
  runroot: string;
  cgroup_manager: CgroupManager;
  shutdown_timeout_seconds: number;
  /** How long a pod or container made for a client that gave up waits for its retry. */
  unclaimed_result_seconds: number;
  log: {
    level: LogLevel;
    format: LogFormat;
  };
  network: {
    cni_config_dir: string;
    cni_plugin_dirs: string[];
    default_network: string;
    /** Bounds each CNI plugin call (ADD, DEL); one that overruns is killed. */
    plugin_timeout_seconds: number;
  };
  image: {
    registries_conf: string;
    registries_conf_dir: string;
    pause_image: string;
    pinned_images: string[];
    max_parallel_downloads: number;
    pull_progress_timeout_seconds: number;
  };
  pod: {
    shm_size_bytes: number;
    /** net.ipv4.ip_unprivileged_port_start=0 in each pod network namespace: any user may bind any port there. */
    unprivileged_ports: boolean;
    /** net.ipv4.ping_group_range="0 2147483647" in each pod network namespace: any user may send ICMP echo. */
    unprivileged_icmp: boolean;
  };
  container: {
    default_capabilities: string[];
    apparmor_profile: string;
  };
  runtime: {
    default_handler: string;
    handlers: Record<string, HandlerConfig>;
  };
  streaming: {
    address: string;
    /** PEM certificate and key for HTTPS; both empty: plain HTTP. */
    tls_cert_file: string;
    tls_key_file: string;
  };
  metrics: {
    address: string;
    /** How often the daemon reads every container's and pod's CPU counter; usage_nano_cores is the rate between its last two readings. */
    stats_sample_interval_seconds: number;
  };
}

export const DEFAULT_CONFIG_PATH = '/etc/podvisor/podvisor.conf';

export const OCI_HANDLER_DEFAULTS: Omit<OciHandlerConfig, 'runtime_path'> = {
  type: 'oci',
  monitor_path: '/usr/bin/conmon',
  // runc and crun answer in well under a second; a minute is a hung runtime, and still leaves a
  // create room within the kubelet's two-minute request timeout.
  runtime_timeout_seconds: 60,
};

// The guest assets the build makes (scripts/guest-assets.mjs), beside the compiled daemon.
const GUEST_ASSETS = join(__dirname, '..', 'guest');

export const VM_HANDLER_DEFAULTS: VmHandlerConfig = {
  type: 'vm',
  qemu_path: '/usr/bin/qemu-system-x86_64',
  kernel_path: join(GUEST_ASSETS, 'vmlinux'),
  initrd_path: join(GUEST_ASSETS, 'initramfs.img'),
  guest_root: join(GUEST_ASSETS, 'root.erofs'),
  accelerator: 'auto',
  vcpus: 1,
  memory_mib: 512,
  kernel_params: [],
  shared_fs: 'virtio-9p',
  template: true,
  warm_clones: 0,
};

export function defaultConfig(): Config {
  return {
    socket: '/run/podvisor/podvisor.sock',
    root: '/var/lib/podvisor',
    runroot: '/run/podvisor',
    cgroup_manager: 'cgroupfs',
    shutdown_timeout_seconds: 10,
    unclaimed_result_seconds: 600,
    log: { level: 'info', format: 'text' },
    network: {
      cni_config_dir: '/etc/cni/net.d',
      cni_plugin_dirs: ['/usr/lib/cni', '/opt/cni/bin'],
      default_network: '',
      // A plugin does local work (links, addresses, iptables): one taking a minute is hung.
      plugin_timeout_seconds: 60,
    },
    image: {
      registries_conf: '/etc/containers/registries.conf',
      registries_conf_dir: '/etc/containers/registries.conf.d',
      pause_image: 'registry.k8s.io/pause:3.10',
      pinned_images: [],
      max_parallel_downloads: 3,
      pull_progress_timeout_seconds: 60,
    },
    // As containerd's enable_unprivileged_ports and enable_unprivileged_icmp, on by default: a
    // pod's network namespace is its own, so these open nothing of the node's.
    pod: { shm_size_bytes: 64 * 1024 * 1024, unprivileged_ports: true, unprivileged_icmp: true },
    container: {
      // containerd's and Docker's default set.
      default_capabilities: [
        'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
      ],
      apparmor_profile: 'podvisor-default',
    },
    runtime: {
      default_handler: 'runc',
      handlers: {
        runc: { ...OCI_HANDLER_DEFAULTS, runtime_path: '/usr/bin/runc' },
        crun: { ...OCI_HANDLER_DEFAULTS, runtime_path: '/usr/bin/crun' },
        vm: VM_HANDLER_DEFAULTS,
      },
    },
    streaming: { address: '127.0.0.1:0', tls_cert_file: '', tls_key_file: '' },
    metrics: { address: '', stats_sample_interval_seconds: 10 },
  };
}
