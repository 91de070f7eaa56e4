// The guest kernel's command line: Kata's boot-time parameters (measured here to save 5-18 %
// of a TCG boot), what our guest needs, and the operator's own, which win over a default with
// the same key as Kata's setKernelParams lets them.

const KATA_BOOT_PARAMS = [
  'tsc=reliable',
  'no_timer_check',
  'rcupdate.rcu_expedited=1',
  'i8042.direct=1',
  'i8042.dumbkbd=1',
  'i8042.nopnp=1',
  'i8042.noaux=1',
  'noreplace-smp',
  'reboot=k',
  'cryptomgr.notests',
  'net.ifnames=0',
  'pci=lastbus=0',
  'quiet',
];

// The console is QEMU's serial port (the pod's console.log); a panic (the agent ended) ends the
// VM at once, since QEMU runs with -no-reboot; init is our script in the initramfs. No SWIOTLB:
// the room for hot-plugged memory above 4 GiB makes the kernel reserve and zero a 64 MiB bounce
// buffer, which no device of ours uses (virtio without an IOMMU does no DMA mapping), and which
// measured 64 MiB of every VM's host memory (PSS 450 -> 382 MiB).
const GUEST_PARAMS = ['console=ttyS0', 'panic=1', 'rdinit=/init', 'swiotlb=noforce'];

/** The key a parameter is known by: "a=b" is "a", a bare flag is itself. */
function key(param: string): string {
  const equals = param.indexOf('=');
  return equals < 0 ? param : param.slice(0, equals);
}

/** The whole command line: defaults first, each replaced by a user parameter of the same key. */
export function kernelCommandLine(userParams: readonly string[]): string {
  const userKeys = new Set(userParams.map(key));
  const defaults = [...KATA_BOOT_PARAMS, ...GUEST_PARAMS].filter((param) => !userKeys.has(key(param)));
  return [...defaults, ...userParams].join(' ');
}
