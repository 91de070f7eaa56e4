/** The machine and the kernel it boots: what every VM of ours has, a pod's or a probe's. */
export interface QemuMachine {
  accelerator: 'kvm' | 'tcg';
  vcpus: number;
  memoryMiB: number;
  /** Room for hot-plugged vCPUs and memory: up to this many vCPUs and MiB in all. */
  maxVcpus?: number;
  maxMemoryMiB?: number;
  kernel: string;
  initrd: string;
  kernelParams: string;
  /**
   * The guest's RAM in a file: a template's, shared so that it is written to the file, or a
   * clone's, mapped copy-on-write from the template's. Without it, anonymous memory.
   */
  memoryFile?: { path: string; shared: boolean };
}

/** One pod VM as QEMU is to run it. */
export interface QemuVm extends QemuMachine {
  /** The guest's serial console, written to a file for when a boot fails. */
  consoleLog: string;
  qmpSocket: string;
  agentSocket: string;
  pidFile: string;
  /** The guest's userland: a read-only filesystem image, the VM's first disk. */
  guestRoot: string;
  /** The pod's shared directory: the containers' root filesystems and volumes. */
  sharedDir?: string;
  /**
   * The NIC's MAC, and the TAP in QEMU's network namespace it is joined to. A template's NIC has
   * no TAP: it is attached to nothing until a clone of it gets the pod's.
   */
  network?: { tapName?: string; mac: string };
  /** Started paused, to take in a saved VM's state (migrate-incoming) instead of booting. */
  incoming?: boolean;
}

// Each memory hot-plug takes one slot (a DIMM); giving memory back frees it.
const MEMORY_SLOTS = 8;

const RAM_ID = 'pod-ram';

export const AGENT_PORT_NAME = 'podvisor.agent';
export const POD_SHARE_TAG = 'podvisor.pod';

// TCG's translated code, in MiB. QEMU 7.2's default buffer is 1 GiB, filled before it is ever
// flushed: a pod VM had 122 MiB of it after booting to its agent, and it grows with every new
// code the guest runs. Measured to the agent: 64 -> 64 MiB and no slower; 32 -> 32 MiB and ~8 %
// slower; 16 -> 16 MiB and ~1.8x as slow.
const TCG_TRANSLATION_MIB = 64;
// One TCG thread for all vCPUs: with a thread per vCPU, QEMU 7.2 splits the buffer into regions
// that the first vCPU takes one after another until a flush, and a hot-plugged vCPU that finds
// none free aborts QEMU (an assertion in tcg_region_initial_alloc), as it did at once with 64
// MiB after a boot. The cost: a VM's vCPUs take turns on one host thread under TCG.
const TCG_OPTIONS = `tcg,tb-size=${TCG_TRANSLATION_MIB},thread=single`;

// QEMU's own option syntax uses commas as separators; a comma in a value is written twice.
function value(text: string): string {
  return text.replace(/,/g, ',,');
}

/**
 * The machine: q35 (microvm hung in some boots with Debian's kernel), the accelerator (TCG with
 * a bounded translation buffer, on one thread), the guest CPU the accelerator can give, no
 * default devices, and the kernel booted directly (PVH).
 */
export function machineArgs(vm: QemuMachine): string[] {
  const memory = vm.memoryFile;
  return [
    '-machine', `q35${memory ? `,memory-backend=${RAM_ID}` : ''}`,
    '-accel', vm.accelerator === 'tcg' ? TCG_OPTIONS : 'kvm',
    ...(memory ? ['-object', `memory-backend-file,id=${RAM_ID},size=${vm.memoryMiB}M,mem-path=${value(memory.path)},share=${memory.shared ? 'on' : 'off'}`] : []),
    '-cpu', vm.accelerator === 'kvm' ? 'host' : 'max',
    '-smp', vm.maxVcpus === undefined ? String(vm.vcpus) : `${vm.vcpus},maxcpus=${Math.max(vm.vcpus, vm.maxVcpus)}`,
    '-m', vm.maxMemoryMiB === undefined ? `${vm.memoryMiB}M` : `${vm.memoryMiB}M,slots=${MEMORY_SLOTS},maxmem=${Math.max(vm.memoryMiB, vm.maxMemoryMiB)}M`,
    '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
    '-kernel', vm.kernel,
    '-initrd', vm.initrd,
    '-append', vm.kernelParams,
  ];
}

/**
 * QEMU's arguments for a pod VM: the machine above, the console to a file, QMP and the agent's
 * virtio-serial port on unix sockets QEMU listens on, the guest root as a read-only
 * virtio disk, the pod's shared directory over virtio-9p, and a virtio NIC on the pod's TAP.
 */
export function qemuArgs(vm: QemuVm): string[] {
  const args = [
    '-name', 'podvisor-pod',
    ...machineArgs(vm),
    '-serial', `file:${vm.consoleLog}`,
    '-qmp', `unix:${value(vm.qmpSocket)},server=on,wait=off`,
    '-pidfile', vm.pidFile,
    '-device', 'virtio-serial-pci,id=serial0',
    '-chardev', `socket,id=agent,path=${value(vm.agentSocket)},server=on,wait=off`,
    '-device', `virtserialport,bus=serial0.0,chardev=agent,name=${AGENT_PORT_NAME}`,
    // A new generation ID at every start, a clone's included: the guest kernel reseeds its RNG
    // when it changes, so clones of one template never draw the same numbers.
    '-device', 'vmgenid,guid=auto',
    '-drive', `file=${value(vm.guestRoot)},if=none,id=guestroot,format=raw,readonly=on`,
    '-device', 'virtio-blk-pci,drive=guestroot',
  ];
  if (vm.sharedDir !== undefined) {
    // The containers' files come from several filesystems (overlays, volumes): remap keeps
    // their inode numbers apart in the guest.
    args.push('-fsdev', `local,id=podshare,path=${value(vm.sharedDir)},security_model=passthrough,multidevs=remap`);
    args.push('-device', `virtio-9p-pci,fsdev=podshare,mount_tag=${POD_SHARE_TAG}`);
  }
  if (vm.network !== undefined) {
    const { tapName, mac } = vm.network;
    args.push('-netdev', tapName === undefined ? 'hubport,id=net0,hubid=0' : `tap,id=net0,ifname=${tapName},script=no,downscript=no,vhost=off`);
    args.push('-device', `virtio-net-pci,netdev=net0,mac=${mac}`);
  }
  if (vm.incoming === true) args.push('-incoming', 'defer');
  return args;
}
