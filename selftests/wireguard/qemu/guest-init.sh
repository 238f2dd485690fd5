#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Second stage in the VM, running from the host's root under an overlay:
# set up a minimal system, run the command the host asked for, report its
# exit status and the kernel log, power off.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
# Process substitution in bash needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /run/netns /run/wireguard /var/run
ln -sfn /run /var/run 2>/dev/null
hostname wgvm
ip link set lo up

# Only our module may ever provide WireGuard in the VM: if ours is not loaded,
# "ip link add type wireguard" must fail, not autoload the stock one.
mkdir -p /etc/modprobe.d
echo "install wireguard /bin/false" >/etc/modprobe.d/wgvm.conf

if grep -q 'wgvm\.out=1' /proc/cmdline; then
	mkdir -p /mnt/out
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 wgout /mnt/out ||
		echo "guest-init: cannot mount the output directory"
fi

run=$(sed -n 's/.*wgvm\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "# vm: $(uname -r) up after $(cut -d' ' -f1 /proc/uptime)s"
sh "$run" </dev/null
rc=$?
sync
echo "WG-VM-DMESG-BEGIN"
dmesg
echo "WG-VM-DMESG-END"
echo "WG-VM-EXIT: $rc"
echo o >/proc/sysrq-trigger
sleep 30
# Never return: init exiting panics the kernel.
while :; do sleep 3600; done
