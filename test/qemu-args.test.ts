// QEMU's arguments for a pod VM, in the pieces a user would notice: what the guest can see of the
// host, how the host reaches the agent, the NIC's MAC and the accelerator.
import { qemuArgs, type QemuVm } from '../oci/vm/qemu-args';

const vm: QemuVm = {
  accelerator: 'tcg',
  vcpus: 2,
  memoryMiB: 512,
  kernel: '/guest/vmlinux',
  initrd: '/guest/initramfs.img',
  kernelParams: 'quiet console=ttyS0',
  consoleLog: '/run/pod/console.log',
  qmpSocket: '/run/pod/qmp.sock',
  agentSocket: '/run/pod/agent.sock',
  pidFile: '/run/pod/qemu.pid',
  guestRoot: '/guest/root.erofs',
  sharedDir: '/run/pod/shared',
  network: { tapName: 'tap0_pv', mac: '02:42:ac:11:00:02' },
};

/** Every value given to `option`, in order. */
const values = (args: string[], option: string): string[] => args.filter((_arg, index) => args[index - 1] === option);

describe('QEMU arguments', () => {
  test("the guest sees only the guest root image, read-only, and its own pod's shared directory, nothing else of the host", () => {
    const args = qemuArgs(vm);
    expect(values(args, '-drive')).toEqual(['file=/guest/root.erofs,if=none,id=guestroot,format=raw,readonly=on']);
    expect(values(args, '-fsdev')).toEqual(['local,id=podshare,path=/run/pod/shared,security_model=passthrough,multidevs=remap']);
    expect(values(args, '-device')).toEqual(expect.arrayContaining(['virtio-blk-pci,drive=guestroot', 'virtio-9p-pci,fsdev=podshare,mount_tag=podvisor.pod']));
    expect(args).toContain('-nodefaults');
  });

  test('a VM with no shared directory or network has neither device', () => {
    const args = qemuArgs({ ...vm, sharedDir: undefined, network: undefined });
    expect(values(args, '-fsdev')).toEqual([]);
    expect(values(args, '-netdev')).toEqual([]);
  });

  test("the NIC takes the CNI interface's MAC, on the pod's TAP, with no scripts run", () => {
    const args = qemuArgs(vm);
    expect(values(args, '-netdev')).toEqual(['tap,id=net0,ifname=tap0_pv,script=no,downscript=no,vhost=off']);
    expect(values(args, '-device')).toContain('virtio-net-pci,netdev=net0,mac=02:42:ac:11:00:02');
  });

  test('the agent is a virtio-serial port named podvisor.agent, on a socket QEMU listens on without waiting', () => {
    const args = qemuArgs(vm);
    expect(values(args, '-chardev')).toEqual(['socket,id=agent,path=/run/pod/agent.sock,server=on,wait=off']);
    expect(values(args, '-device')).toEqual(expect.arrayContaining(['virtio-serial-pci,id=serial0', 'virtserialport,bus=serial0.0,chardev=agent,name=podvisor.agent']));
    expect(values(args, '-qmp')).toEqual(['unix:/run/pod/qmp.sock,server=on,wait=off']);
    expect(values(args, '-serial')).toEqual(['file:/run/pod/console.log']);
  });

  test('TCG runs the most capable emulated CPU with a bounded translation buffer on one thread, KVM the host CPU; the kernel boots directly with its command line', () => {
    const tcg = qemuArgs(vm);
    expect(values(tcg, '-machine')).toEqual(['q35']);
    expect(values(tcg, '-accel')).toEqual(['tcg,tb-size=64,thread=single']);
    expect(values(tcg, '-cpu')).toEqual(['max']);
    expect([...values(tcg, '-smp'), ...values(tcg, '-m')]).toEqual(['2', '512M']);
    expect([...values(tcg, '-kernel'), ...values(tcg, '-initrd'), ...values(tcg, '-append')]).toEqual(['/guest/vmlinux', '/guest/initramfs.img', 'quiet console=ttyS0']);
    const kvm = qemuArgs({ ...vm, accelerator: 'kvm' });
    expect(values(kvm, '-accel')).toEqual(['kvm']);
    expect(values(kvm, '-cpu')).toEqual(['host']);
  });

  test('QEMU stays a child of its caller: it does not daemonize, and a guest reboot ends it', () => {
    const args = qemuArgs(vm);
    expect(args).not.toContain('-daemonize');
    expect(args).toContain('-no-reboot');
    expect(values(args, '-pidfile')).toEqual(['/run/pod/qemu.pid']);
  });

  test("a template's RAM is written to its file; a clone maps that file copy-on-write, its NIC on the pod's TAP, and waits for the saved state", () => {
    const template = qemuArgs({ ...vm, memoryFile: { path: '/run/template/memory', shared: true }, network: { mac: '02:00:00:00:00:01' } });
    expect(values(template, '-machine')).toEqual(['q35,memory-backend=pod-ram']);
    expect(values(template, '-object')).toEqual(['memory-backend-file,id=pod-ram,size=512M,mem-path=/run/template/memory,share=on']);
    expect(values(template, '-netdev')).toEqual(['hubport,id=net0,hubid=0']);
    expect(template).not.toContain('-incoming');
    const clone = qemuArgs({ ...vm, memoryFile: { path: '/run/template/memory', shared: false }, network: { tapName: 'tap0_pv', mac: '02:00:00:00:00:01' }, incoming: true });
    expect(values(clone, '-object')).toEqual(['memory-backend-file,id=pod-ram,size=512M,mem-path=/run/template/memory,share=off']);
    expect(values(clone, '-netdev')).toEqual(['tap,id=net0,ifname=tap0_pv,script=no,downscript=no,vhost=off']);
    expect(values(clone, '-incoming')).toEqual(['defer']);
    // A fresh generation ID at each start tells a clone's kernel to reseed its RNG.
    expect(values(clone, '-device')).toContain('vmgenid,guid=auto');
  });

  test('a comma in a path cannot add options of its own', () => {
    const args = qemuArgs({ ...vm, sharedDir: '/run/a,readonly=off', agentSocket: '/run/b,server=off' });
    expect(values(args, '-fsdev')[0]).toBe('local,id=podshare,path=/run/a,,readonly=off,security_model=passthrough,multidevs=remap');
    expect(values(args, '-chardev')).toEqual(['socket,id=agent,path=/run/b,,server=off,server=on,wait=off']);
  });
});
