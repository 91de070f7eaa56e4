#!/bin/sh
# The guest's first process (busybox sh, from the initramfs): mounts what the agent and the
# containers need, loads the kernel modules, mounts the guest's userland (a read-only disk the
# host gives every VM), and hands over to tini, which runs the agent and reaps orphans as PID 1. If the
# agent ends, tini ends, the kernel panics (panic=1) and QEMU (-no-reboot) exits: the host sees
# the VM end.
export PATH=/podvisor/bin:/bin
export HOME=/run

fail() {
	echo "podvisor-init: $*"
	poweroff -f
}

# The initramfs is the kernel's rootfs, which cannot be pivot_root'ed away from, and runc
# pivots into every container's root: so the guest's files move to a tmpfs first, and this
# script starts again from there.
if ! test -e /.switched; then
	mount -t tmpfs -o mode=0755 root /newroot || fail "cannot mount the guest's root tmpfs"
	cp -a /bin /dev /etc /init /lib /lib64 /podvisor /proc /run /sbin /sys /tmp /usr /newroot/ || fail "cannot copy the guest's root"
	touch /newroot/.switched
	exec switch_root /newroot /init
fi

mount -t proc -o nosuid,nodev,noexec proc /proc || fail "cannot mount /proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fail "cannot mount /sys"
mount -t devtmpfs -o nosuid devtmpfs /dev || fail "cannot mount /dev"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm
mount -t tmpfs -o nosuid,nodev,mode=0755 run /run
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp /tmp

while read -r module; do
	insmod "/lib/modules/$module.ko" || fail "cannot load kernel module $module"
done < /lib/modules/order

mount -t erofs -o ro /dev/vda /podvisor || fail "cannot mount the guest root disk"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
# Modules a container's work asks for (a bridge, iptables rules) load on demand from the guest root.
ln -s /podvisor/kmod "/lib/modules/$(uname -r)"
echo /bin/modprobe > /proc/sys/kernel/modprobe

if ! test -f /podvisor/app/dist/agent/main.js; then
	fail "no agent"
fi
echo "podvisor-init: starting agent"
exec /podvisor/bin/tini -s -- /podvisor/bin/node /podvisor/app/dist/agent/main.js
