#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile netlink input: nlfuzz (nlfuzz.c) throws random and mutated
# SET_DEVICE/GET_DEVICE requests at a scratch device, wgf0, while it applies
# valid changes to wgv0, one end of a working tunnel, and checks them against
# a model.  Meanwhile other processes dump both devices and take wgf0 down
# and up.  Afterwards both devices must still carry traffic, the kernel must
# not have complained, and the module must unload.
#
#   $netns3 wgf0 (scratch; its sockets in $netns3 too, nothing else there)
#   $netns1 wgv0 192.168.241.1  <-- 127.0.0.1:10001/10002 in $netns0 -->  wgt0 192.168.241.2 $netns2
#
# NLFUZZ_SEED (default fixed), NLFUZZ_COUNT requests (default 20000) and
# NLFUZZ_SECONDS (default 60, whichever ends first) size the run; the seed
# replays it: nlfuzz prints it, with the outcomes by errno.

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
WGNL=${WGNL:-$top/build/selftests/wgnl}
WGNLFUZZ=${WGNLFUZZ:-$top/build/selftests/nlfuzz}
NLFUZZ_SEED=${NLFUZZ_SEED:-4242}
NLFUZZ_COUNT=${NLFUZZ_COUNT:-20000}
NLFUZZ_SECONDS=${NLFUZZ_SECONDS:-60}
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
umask 077

# A namespace of its own for the scratch device: whatever a corrupted
# request names, it can only be wgf0 or lo.
netns3="wg-test-$$-3"
n3() { ip netns exec "$netns3" "$@"; }
ip3() { ip -n "$netns3" "$@"; }

diag "nlfuzz: NLFUZZ_SEED=$NLFUZZ_SEED NLFUZZ_COUNT=$NLFUZZ_COUNT NLFUZZ_SECONDS=$NLFUZZ_SECONDS"
if [ ! -x "$WGNLFUZZ" ]; then
	# Not built by make yet: build it here, the way the Makefile would.
	WGNLFUZZ=$tmp/nlfuzz
	gcc -O2 -Wall -Wextra -Werror -o "$WGNLFUZZ" "$here/nlfuzz.c" -lmnl >"$tmp/gcc.out" 2>&1 ||
		{ not_ok "nlfuzz builds"; diag "$(cat "$tmp/gcc.out")"; rm -rf "$tmp"; tap_plan_end; exit 1; }
	diag "built $WGNLFUZZ"
fi

check "our module loads" load_wireguard
netns_setup
ip netns add "$netns3" && ip3 link set lo up

# --- the tunnel, as in tunnel.sh ------------------------------------------------
# Not through check: in its subshell the keys tunnel_pair sets would be lost.
if tunnel_pair wgv0 wgt0; then ok "the tunnel is set up"; else not_ok "the tunnel is set up"; fi
ping1() { n1 ping -c "${2:-1}" -W 2 "$1" >/dev/null 2>&1; }
ping2() { n2 ping -c "${2:-1}" -W 2 "$1" >/dev/null 2>&1; }
check "the tunnel across wgv0 works before the fuzzing" ping1 192.168.241.2 3

ip3 link add dev wgf0 type wireguard
ip3 link set wgf0 up

# --- fuzzing, with dumpers and a flapping link in other processes ------------------
stop=$tmp/stop
# loop NAME COMMAND...: runs COMMAND until $stop exists, then writes
# "runs failures" to $tmp/NAME.count.  A command that hangs fails too.
loop()
{
	local name=$1 runs=0 failures=0
	shift
	while [ ! -e "$stop" ]; do
		if timeout 120 "$@" >/dev/null 2>&1; then
			runs=$((runs + 1))
		else
			failures=$((failures + 1))
		fi
	done
	echo "$runs $failures" >"$tmp/$name.count"
}
pids=()
loop wg-show-wgf0 ip netns exec "$netns3" "$WG_REF" show wgf0 & pids+=($!)
loop wg-show-wgv0 ip netns exec "$netns1" "$WG_REF" show wgv0 dump & pids+=($!)
if [ -x "$WGNL" ]; then
	loop wgnl-dump-wgf0 ip netns exec "$netns3" "$WGNL" dump wgf0 & pids+=($!)
fi
loop down-up-wgf0 sh -c "ip -n $netns3 link set wgf0 down && ip -n $netns3 link set wgf0 up && sleep 0.3" &
pids+=($!)

dmesg_before=$(dmesg | wc -l)
start=$(date +%s)
n3 "$WGNLFUZZ" wgf0 --model wgv0 --model-netns "/run/netns/$netns1" \
	--seed "$NLFUZZ_SEED" --count "$NLFUZZ_COUNT" --seconds "$NLFUZZ_SECONDS" \
	>"$tmp/nlfuzz.out" 2>&1
rc=$?
touch "$stop"
wait "${pids[@]}"
ip3 link set wgf0 up
diag "$(grep '^nlfuzz:' "$tmp/nlfuzz.out") [$(($(date +%s) - start))s]"
if [ "$rc" = 0 ]; then
	ok "nlfuzz: every request answered, wgv0 matches its model, refused requests changed nothing"
else
	not_ok "nlfuzz (exit $rc; replay: NLFUZZ_SEED=$NLFUZZ_SEED NLFUZZ_COUNT=$NLFUZZ_COUNT)"
	diag "$(grep -v '^#   ' "$tmp/nlfuzz.out" | grep -v '^# [0-9]' | tail -n 20)"
	# The bytes of the first request that failed (nlfuzz --hex N shows any).
	diag "$(awk '/^FAIL/ { n++ } n == 1 && /^#   / { print } n > 1 { exit }' "$tmp/nlfuzz.out" | head -n 60)"
fi
for f in "$tmp"/*.count; do
	read -r runs failures <"$f"
	name=$(basename "$f" .count)
	check "concurrently, $name: $runs runs, $failures failed" \
		test "$failures" = 0 -a "$runs" -gt 0
done

# The comparison is not vacuous: a model one prefix off must fail the run.
n3 "$WGNLFUZZ" wgf0 --model wgv0 --model-netns "/run/netns/$netns1" \
	--seed "$NLFUZZ_SEED" --count 400 --tamper >"$tmp/tamper.out" 2>&1
rc=$?
check "nlfuzz --tamper: a model one prefix off is noticed" \
	sh -c "test $rc = 1 && grep -q 'differs from the model at the end' '$tmp/tamper.out'"

dmesg | tail -n +"$((dmesg_before + 1))" >"$tmp/dmesg"
bugs=$("$here/qemu/scan-log.sh" "$tmp/dmesg")
check "the kernel reported no warning or bug meanwhile" test -z "$bugs"
diag "$bugs"

# --- both devices still work ---------------------------------------------------------
check "wg show of the fuzzed device" n3 "$WG_REF" show wgf0
check "wg show of the model device" n1 "$WG_REF" show wgv0
check "the tunnel peer of wgv0 is intact" \
	test "$(n1 "$WG_REF" show wgv0 allowed-ips | grep "^$p2" | cut -f2)" = "192.168.241.2/32 fd00::2/128"
check "ping IPv4 across wgv0, 1 -> 2" ping1 192.168.241.2 3
check "ping IPv4 across wgv0, 2 -> 1" ping2 192.168.241.1
check "ping IPv6 across wgv0, 1 -> 2" ping1 fd00::2
check "ping IPv6 across wgv0, 2 -> 1" ping2 fd00::1

# wgf0 gets a plain configuration and a partner, wgf1, moved to $netns2.
make_keys 3 4
cat >"$tmp/wgf0.conf" <<EOF
[Interface]
PrivateKey = $k3
ListenPort = 11001
FwMark = 0

[Peer]
PublicKey = $p4
AllowedIPs = 192.168.242.2/32
Endpoint = 127.0.0.1:11002
EOF
ip3 link add dev wgf1 type wireguard
ip3 link set wgf1 netns "$netns2"
n2 "$WG_REF" set wgf1 private-key "$tmp/k4" listen-port 11002 \
	peer "$p3" allowed-ips 192.168.242.1/32 endpoint 127.0.0.1:11001
ip2 addr add 192.168.242.2/24 dev wgf1
ip2 link set wgf1 up
check "wg setconf of the fuzzed device" n3 "$WG_REF" setconf wgf0 "$tmp/wgf0.conf"
check "it has exactly that one peer" test "$(n3 "$WG_REF" show wgf0 peers)" = "$p4"
ip3 addr add 192.168.242.1/24 dev wgf0
check "ping across the fuzzed device" n3 ping -c 3 -W 2 192.168.242.2

check "the fuzzed device can be deleted" ip3 link del wgf0
check "the model device can be deleted" ip1 link del wgv0
ip netns del "$netns3"
netns_cleanup
check "module unloads" unload_wireguard
rm -rf "$tmp"
tap_plan_end
