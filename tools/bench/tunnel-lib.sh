# SPDX-License-Identifier: GPL-2.0
# Sourced by the tunnel areas of the benchmark suite (throughput.sh, blip.sh);
# not an area itself.  Runs as root inside the QEMU guest.
#
# Namespaces and helpers come from selftests/wireguard/lib.sh (n0/n1/n2,
# ip0/ip1/ip2, netns_setup, netns_cleanup).  The topology is the one of
# selftests/wireguard/tunnel.sh: wg1 and wg2 are created in $netns0, where
# their UDP sockets stay, then moved to $netns1 and $netns2; the outer
# packets go over $netns0's loopback.
#
#   $netns1 wg1 192.168.241.1  <-- 127.0.0.1:10001/10002 in $netns0 -->  wg2 192.168.241.2 $netns2
#
# The caller sets: area (its name), here, top.  Environment: WG_MODULE (ours,
# required), STOCK_MODULE (default: the Debian one, decompressed), DEB_WG
# (default /usr/bin/wg), OUR_WG (default tools/wg/wg).

# shellcheck source=selftests/wireguard/lib.sh
. "$top/selftests/wireguard/lib.sh"

DEB_WG=${DEB_WG:-/usr/bin/wg}
OUR_WG=${OUR_WG:-$top/tools/wg/wg}
PY=/usr/bin/python3
kernel=$(uname -r)
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
work=/tmp/wgbench-$area
csv=""
[ -d /mnt/out ] && csv=/mnt/out/$area.csv

die() { echo "$area: $*" >&2; netns_cleanup; exit 1; }
log() { echo "# $area: $*" >&2; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# emit MODULE N METRIC VALUE UNIT
emit()
{
	local line="$kernel,$1,$2,$3,$4,$5"
	echo "$line"
	[ -n "$csv" ] && echo "$line" >>"$csv"
	return 0
}

bench_init()
{
	local d
	[ "$(id -u)" = 0 ] || die "must run as root (in the VM)"
	[ -n "${WG_MODULE:-}" ] && [ -r "$WG_MODULE" ] || die "WG_MODULE='${WG_MODULE:-}' is not readable"
	for d in "$DEB_WG" "$OUR_WG" "$PY"; do
		[ -x "$d" ] || die "$d is not executable"
	done
	rm -rf "$work"
	mkdir -p "$work"
	chmod 700 "$work"
	if [ -z "${STOCK_MODULE:-}" ]; then
		d=/lib/modules/$kernel/kernel/drivers/net/wireguard
		if [ -r "$d/wireguard.ko.xz" ]; then
			xz -dc "$d/wireguard.ko.xz" >"$work/stock-wireguard.ko" || die "cannot decompress the stock module"
			STOCK_MODULE=$work/stock-wireguard.ko
		else
			STOCK_MODULE=$d/wireguard.ko
		fi
	fi
	[ -r "$STOCK_MODULE" ] || die "no stock module at $STOCK_MODULE"
	[ -d /sys/module/wireguard ] && unload_module
	[ -n "$csv" ] && : >"$csv"
	"$DEB_WG" genkey >"$work/k1"
	"$DEB_WG" genkey >"$work/k2"
	p1=$("$DEB_WG" pubkey <"$work/k1")
	p2=$("$DEB_WG" pubkey <"$work/k2")
}

# load_module stock|ours
load_module()
{
	local ko dep
	case $1 in
	stock) ko=$STOCK_MODULE ;;
	ours) ko=$WG_MODULE ;;
	*) die "unknown module $1" ;;
	esac
	for dep in $(modinfo -F depends "$ko" | tr , ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$ko"
}

unload_module()
{
	local _
	for _ in $(seq 1 120); do
		[ -d /sys/module/wireguard ] || return 0
		rmmod wireguard 2>/dev/null && return 0
		sleep 0.5
	done
	die "cannot unload wireguard"
}

# tunnel_up [WG1_CONF]: namespaces, wg1 <-> wg2, handshake done.  With a
# config file, wg1 is configured by Debian's wg setconf of that file instead
# of the default single-prefix peer.
tunnel_up()
{
	netns_setup || return 1
	ip0 link add dev wg1 type wireguard || return 1
	ip0 link add dev wg2 type wireguard || return 1
	ip0 link set wg1 netns "$netns1" || return 1
	ip0 link set wg2 netns "$netns2" || return 1
	if [ -n "${1:-}" ]; then
		n1 "$DEB_WG" setconf wg1 "$1" || return 1
	else
		n1 "$DEB_WG" set wg1 private-key "$work/k1" listen-port 10001 \
			peer "$p2" allowed-ips 192.168.241.2/32 endpoint 127.0.0.1:10002 || return 1
	fi
	n2 "$DEB_WG" set wg2 private-key "$work/k2" listen-port 10002 \
		peer "$p1" allowed-ips 192.168.241.1/32 endpoint 127.0.0.1:10001 || return 1
	ip1 addr add 192.168.241.1/24 dev wg1
	ip2 addr add 192.168.241.2/24 dev wg2
	ip1 link set wg1 up
	ip2 link set wg2 up
	n1 ping -c 3 -W 2 192.168.241.2 >/dev/null 2>&1 ||
		n1 ping -c 3 -W 2 192.168.241.2 >/dev/null 2>&1
}

tunnel_down()
{
	ip1 link del wg1 2>/dev/null
	ip2 link del wg2 2>/dev/null
	netns_cleanup
}

# drops DEV1 DEV2: tx_dropped of DEV1 (in $netns1), rx_dropped of DEV2 (in
# $netns2), UdpRcvbufErrors in $netns2 (the iperf3 server's socket) and in
# $netns0 (where the tunnel's sockets are).
drops()
{
	local tx rx r2 r0
	tx=$(n1 cat "/sys/class/net/$1/statistics/tx_dropped" 2>/dev/null)
	rx=$(n2 cat "/sys/class/net/$2/statistics/rx_dropped" 2>/dev/null)
	r2=$(n2 awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp)
	r0=$(n0 awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp)
	echo "${tx:-0} ${rx:-0} ${r2:-0} ${r0:-0}"
}

# veth_up: the ceiling, a plain veth pair between $netns1 and $netns2 with
# the same inner addresses and no tunnel.
veth_up()
{
	netns_setup || return 1
	ip1 link add veth1 type veth peer name veth2 netns "$netns2" || return 1
	ip1 addr add 192.168.241.1/24 dev veth1
	ip2 addr add 192.168.241.2/24 dev veth2
	ip1 link set veth1 up
	ip2 link set veth2 up
	n1 ping -c 3 -W 2 192.168.241.2 >/dev/null 2>&1
}

veth_down() { netns_cleanup; }
