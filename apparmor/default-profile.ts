/**
 * The AppArmor profile containers asking for RuntimeDefault run under. It allows what ordinary
 * workloads do (files, network, capabilities the spec grants) and denies what lets a process
 * reach past its container: mounting, kernel tunables outside the namespaced ones, raw kernel
 * memory, firmware and security filesystems, and signals or ptrace across profiles.
 */
export function defaultProfile(name: string): string {
  return `#include <tunables/global>

profile ${name} flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>

  network,
  capability,
  file,
  umount,

  # Processes of other containers and the host are out of reach; the runtime (unconfined) may signal.
  signal (receive) peer=unconfined,
  signal (send,receive) peer=${name},
  ptrace (trace,read,tracedby,readby) peer=${name},

  deny mount,
  deny pivot_root,

  # /proc: no writes to top-level files, and sysctls only in the namespaced net, kernel.shm*,
  # kernel.msg* and kernel.sem families.
  deny @{PROC}/* w,
  deny @{PROC}/sys/[^kn]** w,
  deny @{PROC}/sys/n[^e]** w,
  deny @{PROC}/sys/k[^e]** w,
  deny @{PROC}/sys/kernel/[^sm]** w,
  deny @{PROC}/sys/kernel/s[^he]** w,
  deny @{PROC}/sys/kernel/m[^s]** w,
  deny @{PROC}/sysrq-trigger rwklx,
  deny @{PROC}/kcore rwklx,
  deny @{PROC}/kmem rwklx,
  deny @{PROC}/mem rwklx,

  # /sys: read-only apart from cgroupfs, and firmware and LSM state not even readable.
  deny /sys/[^f]*/** wklx,
  deny /sys/f[^s]*/** wklx,
  deny /sys/fs/[^c]*/** wklx,
  deny /sys/fs/c[^g]*/** wklx,
  deny /sys/fs/cg[^r]*/** wklx,
  deny /sys/firmware/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
`;
}
