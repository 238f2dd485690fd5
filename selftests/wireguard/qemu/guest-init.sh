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

# Under multi-threaded TCG a vCPU can still run into the int3 that live code
# patching leaves for a moment at a static branch after the patching CPU has
# removed it again; the kernel then dies with "Oops: int3" (seen in
# __netif_receive_skb_core and in netif_rx_internal while ping switched
# netstamp_needed_key on or off).  Keep on, for the whole run, the keys that
# the tests would otherwise flip all the time: a socket with SO_TIMESTAMP
# holds netstamp_needed_key (every ping toggles it), and UDP sockets marked
# as tunnels (UDP_ENCAP, L2TP's type: needs no module) hold
# udp_encap_needed_key and udpv6_encap_needed_key (every WireGuard device's
# sockets toggle them).  They live in this namespace, which no test uses.
pin_static_keys()
{
	/usr/bin/python3 -c '
import signal, socket, sys
# Numbers from asm-generic/socket.h and linux/udp.h: Python names none.
SO_TIMESTAMP, UDP_ENCAP, UDP_ENCAP_L2TPINUDP = 29, 100, 3
try:
    stamp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stamp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
    tunnels = [socket.socket(f, socket.SOCK_DGRAM) for f in (socket.AF_INET, socket.AF_INET6)]
    for t in tunnels:
        t.setsockopt(socket.IPPROTO_UDP, UDP_ENCAP, UDP_ENCAP_L2TPINUDP)
except OSError as e:
    sys.exit("guest-init: static keys not pinned: %s" % e)
signal.pause()' &
	pinner=$!
	# The keys flip from a workqueue: let that happen before any test runs.
	sleep 1
	kill -0 "$pinner" 2>/dev/null || echo "guest-init: the static keys are not pinned"
}
pin_static_keys

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
