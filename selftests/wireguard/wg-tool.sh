#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Our wg(8) (tools/wg) against the kernel module under test: it must print
# byte for byte what Debian's wg prints for the same device, apply +/-
# allowed-IP changes and syncconf differences incrementally, and fail
# cleanly on bad input.
#
#   WG=path/to/our/wg           (default: tools/wg/wg of this tree)
#   UPSTREAM_WG=/usr/bin/wg     the reference tool
#   WG_EXPECT_REMOVE=1|0        1 (default): single-prefix removal must work;
#                               0: skip those tests when the module lacks it
#   WG_BIG=N                    prefixes in the large-config test (20000)
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/wireguard/lib.sh
. "$here/lib.sh"

WG=${WG:-$here/../../tools/wg/wg}
UP=${UPSTREAM_WG:-/usr/bin/wg}
WG_EXPECT_REMOVE=${WG_EXPECT_REMOVE:-1}
WG_BIG=${WG_BIG:-20000}
tmp=$(mktemp -d)
umask 077

cleanup()
{
	netns_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! wireguard_loaded; then
	load_wireguard || { not_ok "load wireguard module"; tap_plan_end; exit 1; }
fi
ok "wireguard module loaded"
[ -x "$WG" ] || { not_ok "our wg at $WG"; tap_plan_end; exit 1; }
[ -x "$UP" ] || { not_ok "reference wg at $UP"; tap_plan_end; exit 1; }
netns_setup || { not_ok "namespaces"; tap_plan_end; exit 1; }

for i in 0 1 2 3 4 5; do
	"$UP" genkey > "$tmp/k$i"
	"$UP" pubkey < "$tmp/k$i" > "$tmp/p$i"
done
"$UP" genpsk > "$tmp/psk"
k() { cat "$tmp/k$1"; }
p() { cat "$tmp/p$1"; }

# same "what" ns args...: our wg and the reference print the same bytes
# and exit with the same status.
same()
{
	local what=$1 ns=$2 a b ra rb
	shift 2
	a=$($ns "$WG" "$@" 2>/dev/null; echo "rc=$?")
	b=$($ns "$UP" "$@" 2>/dev/null; echo "rc=$?")
	if [ "$a" == "$b" ]; then
		ok "$what"
	else
		not_ok "$what"
		echo "$b" > "$tmp/want.txt"
		echo "$a" > "$tmp/got.txt"
		diag "$(diff "$tmp/want.txt" "$tmp/got.txt" | head -20)"
	fi
}

# showconf with every AllowedIPs list sorted and the lines sorted: the same
# configuration whatever order prefixes were added in.
normconf()
{
	local key ips
	"$UP" showconf "$1" | grep -v '^AllowedIPs' | sort
	"$UP" show "$1" allowed-ips | while read -r key ips; do
		echo "$key $(echo "$ips" | tr ' ' '\n' | sort | tr '\n' ' ')"
	done | sort
}

showdiff()
{
	echo "$1" > "$tmp/want.txt"
	echo "$2" > "$tmp/got.txt"
	diag "$(diff "$tmp/want.txt" "$tmp/got.txt" | head -20)"
}

# --- basic configuration with our tool, compared output -----------------
cat > "$tmp/c1.conf" <<CONF
[Interface]
PrivateKey = $(k 0)
ListenPort = 51820
FwMark = 0x1234

[Peer]
PublicKey = $(p 1)
PresharedKey = $(cat "$tmp/psk")
AllowedIPs = 10.0.1.0/24, 10.0.2.5/32
AllowedIPs = fd00:1::/64
Endpoint = 192.0.2.1:1234
PersistentKeepalive = 25

[Peer]
PublicKey = $(p 2)
Endpoint = [2001:db8::1]:51820
AllowedIPs = 10.0.3.0/24

[Peer]
PublicKey = $(p 3)
CONF

n0 ip link add wg0 type wireguard
n0 ip link add wg1 type wireguard
check "setconf with our wg" n0 "$WG" setconf wg0 "$tmp/c1.conf"
check "setconf wg1 with reference wg" n0 "$UP" setconf wg1 "$tmp/c1.conf"
same "show wg0" n0 show wg0
same "show (all)" n0 show
same "show all" n0 show all
same "showconf wg0" n0 showconf wg0
same "show wg0 dump" n0 show wg0 dump
same "show all dump" n0 show all dump
same "show interfaces" n0 show interfaces
for f in public-key private-key listen-port fwmark peers preshared-keys endpoints \
	allowed-ips latest-handshakes transfer persistent-keepalive; do
	same "show all $f" n0 show all "$f"
	same "show wg0 $f" n0 show wg0 "$f"
done
export WG_COLOR_MODE=always
same "coloured show" n0 show
export WG_HIDE_KEYS=never
same "show with keys" n0 show wg0
unset WG_COLOR_MODE WG_HIDE_KEYS
a=$(n0 "$UP" showconf wg0)
b=$(n0 "$UP" showconf wg1)
if [ "$a" == "$b" ]; then ok "our setconf == reference setconf"; else not_ok "our setconf == reference setconf"; showdiff "$b" "$a"; fi

# --- set ----------------------------------------------------------------
check "set fields" n0 "$WG" set wg0 listen-port 51999 fwmark off peer "$(p 3)" endpoint 127.0.0.1:9 persistent-keepalive 5 allowed-ips 10.0.9.0/24,fd00:9::1
same "show after set" n0 show wg0 dump
check "set peer remove" n0 "$WG" set wg0 peer "$(p 3)" remove
check "peer gone" bash -c "! ip netns exec $netns0 $UP show wg0 peers | grep -q '$(p 3)'"
check "set private-key /dev/null" n0 "$WG" set wg0 private-key /dev/null
same "show without private key" n0 show wg0
check "restore private key" n0 "$WG" set wg0 private-key "$tmp/k0"

# --- incremental allowed IPs ---------------------------------------------
check "set +prefix" n0 "$WG" set wg0 peer "$(p 2)" allowed-ips +10.0.4.0/24,+fd00:4::/64
check "+prefix added, others kept" bash -c "ip netns exec $netns0 $UP show wg0 allowed-ips | grep '$(p 2)' | grep -q '10.0.3.0/24 10.0.4.0/24 fd00:4::/64'"
if n0 "$WG" set wg0 peer "$(p 2)" allowed-ips -10.0.3.0/24 2> "$tmp/err"; then
	check "-prefix removed, others kept" bash -c "ip netns exec $netns0 $UP show wg0 allowed-ips | grep '$(p 2)' | grep -q '	10.0.4.0/24 fd00:4::/64$'"
	removal=1
elif [ "$WG_EXPECT_REMOVE" = 1 ]; then
	not_ok "set -prefix"
	diag "$(cat "$tmp/err")"
	removal=0
else
	if grep -q "does not support removing" "$tmp/err"; then
		skip "set -prefix" "module lacks WGALLOWEDIP_F_REMOVE_ME (reported clearly)"
	else
		not_ok "set -prefix unsupported message"
		diag "$(cat "$tmp/err")"
	fi
	check "nothing applied after refused removal" bash -c "ip netns exec $netns0 $UP show wg0 allowed-ips | grep '$(p 2)' | grep -q '10.0.3.0/24'"
	removal=0
fi

# --- syncconf: only the difference goes to the kernel ---------------------
n0 "$WG" showconf wg0 > "$tmp/s.conf"
check "syncconf of the running state" n0 "$WG" syncconf wg0 "$tmp/s.conf"
if command -v strace > /dev/null; then
	n0 strace -f -e trace=sendto,sendmsg -s 0 -o "$tmp/st" "$WG" syncconf wg0 "$tmp/s.conf"
	sets=$(grep -c 'sendto\|sendmsg' "$tmp/st")
	# family lookup + GET (and nothing else) for an unchanged file
	if [ "$sets" -le 3 ]; then ok "unchanged syncconf sends no SET ($sets requests)"; else not_ok "unchanged syncconf sends no SET ($sets requests)"; diag "$(cat "$tmp/st")"; fi
else
	skip "unchanged syncconf sends no SET" "no strace"
fi
sed -i "s|^AllowedIPs = 10.0.1.0/24|AllowedIPs = 10.0.7.0/24, 10.0.1.0/24|" "$tmp/s.conf"
printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.0.5.0/24\n' "$(p 4)" >> "$tmp/s.conf"
check "syncconf with an added prefix and peer" n0 "$WG" syncconf wg0 "$tmp/s.conf"
n0 "$UP" syncconf wg1 "$tmp/s.conf"
a=$(n0 bash -c "$(declare -f normconf); UP=$UP normconf wg0"); b=$(n0 bash -c "$(declare -f normconf); UP=$UP normconf wg1")
if [ "$a" == "$b" ]; then ok "syncconf end state == reference"; else not_ok "syncconf end state == reference"; showdiff "$b" "$a"; fi
# Removing a prefix and a peer through syncconf (REPLACE fallback without removal support).
sed -i "s|10.0.7.0/24, ||" "$tmp/s.conf"
check "syncconf removing a prefix" n0 "$WG" syncconf wg0 "$tmp/s.conf"
n0 "$UP" syncconf wg1 "$tmp/s.conf"
a=$(n0 bash -c "$(declare -f normconf); UP=$UP normconf wg0"); b=$(n0 bash -c "$(declare -f normconf); UP=$UP normconf wg1")
if [ "$a" == "$b" ]; then ok "syncconf removal end state == reference"; else not_ok "syncconf removal end state == reference"; showdiff "$b" "$a"; fi
check "setconf back to c1" n0 "$WG" setconf wg0 "$tmp/c1.conf"
n0 "$UP" setconf wg1 "$tmp/c1.conf"
a=$(n0 bash -c "$(declare -f normconf); UP=$UP normconf wg0"); b=$(n0 bash -c "$(declare -f normconf); UP=$UP normconf wg1")
if [ "$a" == "$b" ]; then ok "setconf end state == reference"; else not_ok "setconf end state == reference"; showdiff "$b" "$a"; fi

# --- errors: non-zero exit, nothing applied --------------------------------
before=$(n0 "$UP" showconf wg0)
check_fails "bad key" n0 "$WG" set wg0 peer notakey
check_fails "bad prefix" n0 "$WG" set wg0 peer "$(p 5)" allowed-ips 10.0.0.0/33
check_fails "bad endpoint" n0 "$WG" set wg0 peer "$(p 5)" endpoint 1.2.3.4
check_fails "unknown option" n0 "$WG" set wg0 bogus 1
check_fails "good then bad argument" n0 "$WG" set wg0 listen-port 1234 peer "$(p 5)" allowed-ips 10.0.0.0/99
printf '[Interface]\nAddress = 10.0.0.1/24\n' > "$tmp/bad.conf"
check_fails "wg-quick key in setconf" n0 "$WG" setconf wg0 "$tmp/bad.conf"
check_fails "missing interface" n0 "$WG" show nosuchwg
check_fails "missing interface set" n0 "$WG" set nosuchwg listen-port 1
same "show over-long name" n0 show abcdefghijklmnop
same "show over-long name dump" n0 show abcdefghijklmnopqrstuvwxyz dump
same "showconf over-long name" n0 showconf abcdefghijklmnop
long=$(printf '%09000d' 0)
for c in show showconf; do
	n0 "$WG" $c "$long" > /dev/null 2> "$tmp/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "Invalid argument" "$tmp/err"; then
		ok "$c with a 9000-character name: clear error"
	else
		not_ok "$c with a 9000-character name: clear error (exit $rc)"
		diag "$(head -c 300 "$tmp/err")"
	fi
done
after=$(n0 "$UP" showconf wg0)
if [ "$before" == "$after" ]; then ok "failed commands changed nothing"; else not_ok "failed commands changed nothing"; fi

# --- size: many prefixes, split across messages ---------------------------
{
	printf '[Interface]\nPrivateKey = %s\n\n[Peer]\nPublicKey = %s\n' "$(k 0)" "$(p 1)"
	awk -v n="$WG_BIG" 'BEGIN { for (i = 0; i < n; i++) printf "AllowedIPs = 10.%d.%d.0/24\n", int(i / 256) % 256 + 64, i % 256 }'
	printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = fd00:77::/64\n' "$(p 2)"
} > "$tmp/big.conf"
check "setconf $WG_BIG prefixes" n0 "$WG" setconf wg0 "$tmp/big.conf"
cnt=$(n0 "$UP" show wg0 allowed-ips | head -1 | wc -w)
if [ "$cnt" -ge "$WG_BIG" ]; then ok "all $WG_BIG prefixes present"; else not_ok "all $WG_BIG prefixes present ($cnt)"; fi
same "big show dump" n0 show wg0 dump
same "big showconf" n0 showconf wg0
echo "AllowedIPs = 10.200.0.0/16" >> "$tmp/big.conf"
check "big syncconf with one new prefix" n0 "$WG" syncconf wg0 "$tmp/big.conf"
same "big show dump after syncconf" n0 show wg0 dump

# A dump that the device's change interrupts (NLM_F_DUMP_INTR) must be read
# to its end and then asked for again: every read succeeds and is whole.  A
# writer keeps changing the fwmark while our wg reads the big device; strace
# shows the runs that needed a second GET.  Up to 200 reads, until 3 retried.
# The writer pauses between changes: back to back, under TCG and strace, a
# change landed inside every one of wg's 100 attempts (EAGAIN in make check),
# which tests the writer's speed, not the retry.
if command -v strace > /dev/null; then
	whole=$(n0 "$UP" show wg0 allowed-ips | head -1 | wc -w)
	# not through n0(): $! must be the loop itself, so that kill stops it
	ip netns exec "$netns0" bash -c "while :; do for m in 1 2 3 4 5 6 7 8; do $UP set wg0 fwmark \$m; sleep 0.2; done; done" &
	writer=$!
	retried=0 bad=0 runs=0
	while [ "$runs" -lt 200 ] && [ "$retried" -lt 3 ] && [ "$bad" -eq 0 ]; do
		runs=$((runs + 1))
		if ! n0 strace -f -e trace=sendto -o "$tmp/st" "$WG" show wg0 allowed-ips > "$tmp/ips" 2> "$tmp/err"; then
			bad=$((bad + 1))
			continue
		fi
		cnt=$(head -1 "$tmp/ips" | wc -w)
		[ "$cnt" -eq "$whole" ] || { bad=$((bad + 1)); echo "short read: $cnt words, not $whole" > "$tmp/err"; }
		# family lookup + one GET; more means a dump was retried
		[ "$(grep -c '^[0-9]* *sendto' "$tmp/st")" -gt 2 ] && retried=$((retried + 1))
	done
	kill "$writer"
	wait "$writer" 2> /dev/null
	if [ "$bad" -eq 0 ]; then ok "show during changes: $runs reads whole"; else not_ok "show during changes: read $runs failed"; diag "$(cat "$tmp/err")"; fi
	if [ "$retried" -gt 0 ]; then ok "interrupted dumps retried ($retried of $runs reads)"; else not_ok "interrupted dumps retried (none seen in $runs reads)"; fi
else
	skip "show during changes" "no strace"
	skip "interrupted dumps retried" "no strace"
fi

# --- keys -----------------------------------------------------------------
a=$("$WG" pubkey < "$tmp/k1"); b=$(p 1)
if [ "$a" == "$b" ]; then ok "pubkey matches reference"; else not_ok "pubkey matches reference"; fi
a=$("$WG" genkey | "$UP" pubkey) && ok "genkey output accepted by reference" || not_ok "genkey output accepted by reference"

tap_plan_end
