# SPDX-License-Identifier: GPL-2.0
# Sourced by the selftests: TAP output, our module, namespaces.
#
# Each test script prints TAP ("ok N - what", "not ok N - what",
# "ok N - what # SKIP why") and exits non-zero when a test failed.
# WG_MODULE names the wireguard.ko to test (run-tests.sh sets it).
# WG_TAP_TIMES=1 puts the seconds since the script began before each result,
# to show where a slow run spends its time (the debug lane sets it).

tap_n=0
tap_failed=0

tap_time()
{
	[ "${WG_TAP_TIMES:-0}" = 1 ] && echo "# at ${SECONDS}s"
	return 0
}

tap_plan_end()
{
	echo "1..$tap_n"
	[ "$tap_failed" = 0 ]
}

ok()
{
	tap_time
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}

not_ok()
{
	tap_time
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
}

skip()
{
	tap_time
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}

# check "what" command...: one test, passing when the command succeeds.
# The command's output is shown (as TAP comments) only when it fails.
check()
{
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$what"
	else
		not_ok "$what"
		diag "$out"
		diag "command: $*"
	fi
}

# check_fails "what" command...: passing when the command fails.
check_fails()
{
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		not_ok "$what"
		diag "unexpected success: $*"
		diag "$out"
	else
		ok "$what"
	fi
}

diag()
{
	[ -n "$*" ] && printf '%s\n' "$*" | sed 's/^/# /'
	return 0
}

# Load our module (never the stock one): its dependencies through modprobe,
# then the module itself with insmod.
load_wireguard()
{
	local dep
	[ -n "${WG_MODULE:-}" ] && [ -r "$WG_MODULE" ] || {
		echo "load_wireguard: WG_MODULE='${WG_MODULE:-}' is not readable" >&2
		return 1
	}
	for dep in $(modinfo -F depends "$WG_MODULE" | tr , ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$WG_MODULE" "$@"
}

unload_wireguard()
{
	rmmod wireguard
}

wireguard_loaded()
{
	[ -d /sys/module/wireguard ]
}

# Namespaces: n0 runs a command in namespace $netns0, and so on.
netns0="wg-test-$$-0"
netns1="wg-test-$$-1"
netns2="wg-test-$$-2"
n0() { ip netns exec "$netns0" "$@"; }
n1() { ip netns exec "$netns1" "$@"; }
n2() { ip netns exec "$netns2" "$@"; }
ip0() { ip -n "$netns0" "$@"; }
ip1() { ip -n "$netns1" "$@"; }
ip2() { ip -n "$netns2" "$@"; }

netns_setup()
{
	ip netns add "$netns0" && ip netns add "$netns1" && ip netns add "$netns2" &&
		ip0 link set lo up && ip1 link set lo up && ip2 link set lo up
}

# make_keys N...: for each N, a private key in $tmp/kN and in $kN, and its
# public key in $pN, all from $WG_REF.
make_keys()
{
	local n key

	for n in "$@"; do
		key=$("$WG_REF" genkey) || return 1
		printf '%s\n' "$key" >"$tmp/k$n"
		printf -v "k$n" '%s' "$key"
		printf -v "p$n" '%s' "$(printf '%s\n' "$key" | "$WG_REF" pubkey)"
	done
}

# tunnel_devices DEV1 DEV2: DEV1 in $netns1 and DEV2 in $netns2, both
# created in $netns0, so that their UDP sockets stay there and the outer
# packets cross its loopback.
tunnel_devices()
{
	ip0 link add dev "$1" type wireguard && ip0 link add dev "$2" type wireguard &&
		ip0 link set "$1" netns "$netns1" && ip0 link set "$2" netns "$netns2"
}

# tunnel_pair DEV1 DEV2: the tunnel most tests start from, up.  DEV1 is
# 192.168.241.1 and fd00::1 on port 10001 with key 1, DEV2 .2 and fd00::2
# on port 10002 with key 2 (make_keys 1 2), each the other's only peer.
tunnel_pair()
{
	make_keys 1 2 && tunnel_devices "$1" "$2" &&
	n1 "$WG_REF" set "$1" private-key "$tmp/k1" listen-port 10001 \
		peer "$p2" allowed-ips 192.168.241.2/32,fd00::2/128 endpoint 127.0.0.1:10002 &&
	n2 "$WG_REF" set "$2" private-key "$tmp/k2" listen-port 10002 \
		peer "$p1" allowed-ips 192.168.241.1/32,fd00::1/128 endpoint 127.0.0.1:10001 &&
	ip1 addr add 192.168.241.1/24 dev "$1" && ip1 addr add fd00::1/112 dev "$1" &&
	ip2 addr add 192.168.241.2/24 dev "$2" && ip2 addr add fd00::2/112 dev "$2" &&
	ip1 link set "$1" up && ip2 link set "$2" up
}

# wait_tcp_listen NETNS PORT: until something listens on TCP PORT in NETNS
# (iperf3 -D returns before its server does), at most 10 s.
wait_tcp_listen()
{
	for _ in $(seq 1 100); do
		ip netns exec "$1" ss -Htln "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# start_wireguard_go NETNS NAME LOG: wireguard-go in the foreground of a
# background job, its pid in $wggo_pid. Started directly, not through n1/n2:
# a shell function put in the background is a subshell, and killing that
# would leave wireguard-go (and its UAPI socket) behind for the next script.
# Succeeds once both its UAPI socket and its tun device exist.
start_wireguard_go()
{
	local netns=$1 name=$2 log=$3 i

	wggo_name=$name
	rm -f "/var/run/wireguard/$name.sock"
	ip netns exec "$netns" env WG_PROCESS_FOREGROUND=1 "$WGGO" "$name" >"$log" 2>&1 &
	wggo_pid=$!
	for i in $(seq 1 100); do
		if [ -S "/var/run/wireguard/$name.sock" ] &&
		   ip -n "$netns" link show "$name" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	cat "$log" >&2
	return 1
}

stop_wireguard_go()
{
	[ -n "$wggo_pid" ] || return 0
	kill "$wggo_pid" 2>/dev/null
	wait "$wggo_pid" 2>/dev/null
	rm -f "/var/run/wireguard/$wggo_name.sock"
	wggo_pid=
}

netns_cleanup()
{
	ip netns del "$netns0" 2>/dev/null
	ip netns del "$netns1" 2>/dev/null
	ip netns del "$netns2" 2>/dev/null
	return 0
}
