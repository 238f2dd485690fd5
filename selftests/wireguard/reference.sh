#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The reference lane: the same netlink requests, sent to the stock
# wireguard.ko of Debian's newest kernels (upstream's behaviour) and to ours,
# must get the same answer (exit status, errno and extack) and leave the same
# allowed IPs.  Requests go out through wgnl (what wg never sends) and
# through upstream's wg from the trixie root (`chroot ROOT wg`).
#
#   reference.sh [RELEASE...]      on the host: boots each release (default:
#                                  those trixie-root.sh unpacked), runs the
#                                  cases under the stock module there, and
#                                  under ours where ours is built for it;
#                                  then compares every transcript with ours
#                                  and prints TAP, one result per case
#   reference.sh --guest OUTDIR stock|MODULE...   in the VM: writes one
#                                  transcript per module, OUTDIR/LABEL.txt
#
# A case that differs shows both answers; the differences are the list of
# what ours has to change (or document as an extension).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
root=${WG_TRIXIE_CACHE:-/var/cache/wireguard-fork}/trixie
WGNL=$top/build/selftests/wgnl

# Fixed keys, so that transcripts compare byte for byte.
key() { head -c 32 /dev/zero | tr '\0' "$1" | base64; }
A=$(key a) B=$(key b) C=$(key c)

uwg() { ip netns exec ref chroot "$root" wg "$@"; }

# One case: a fresh device with peer A on 10.0.0.0/24 and fd00::/64, peer B
# on 10.1.0.0/24; the request; its answer; the resulting allowed IPs.
run_case()
{
	local name=$1 out rc
	shift
	ip netns del ref 2>/dev/null
	ip netns add ref
	ip -n ref link add wg0 type wireguard || { echo "== $name: no device"; return; }
	uwg set wg0 peer "$A" allowed-ips 10.0.0.0/24,fd00::/64 peer "$B" allowed-ips 10.1.0.0/24
	out=$("$@" 2>&1)
	rc=$?
	echo "== $name"
	echo "-- exit $rc"
	[ -n "$out" ] && sed 's/^/-- /' <<<"$out"
	uwg show wg0 allowed-ips | sed "s|$A|A|; s|$B|B|; s|$C|C|" | sort
}

# A dump of peer A's 3000 prefixes, read part by part, during which `wg set
# wg0 peer KEY allowed-ips LIST` runs once the first part is read (wgnl
# --then): is the dump flagged NLM_F_DUMP_INTR?  How many prefixes a flagged
# dump carries is recorded as information only: its content is not defined
# (readers must dump again), and stock's leaves out part of the peer that was
# being dumped where ours does not (2307 of 3002 prefixes against 3002).
dump_while_changing()
{
	local key=$1 list=$2 out intr ips
	seq 0 2999 | awk '{ printf "%s10.200.%d.%d/32", (NR > 1 ? "," : ""), int($1 / 256), $1 % 256 }' >/tmp/ref-ips
	uwg set wg0 peer "$A" allowed-ips "10.0.0.0/24,fd00::/64,$(cat /tmp/ref-ips)" || return 1
	out=$(ip netns exec ref "$WGNL" dump wg0 --then \
		"chroot $root wg set wg0 peer $key allowed-ips $list") || return 1
	read -r _ _ _ intr _ _ _ ips <<<"$out"
	echo "flagged $([ "$intr" -gt 0 ] && echo yes || echo no)"
	echo "info: $ips prefixes in the dump"
	uwg set wg0 peer "$A" allowed-ips 10.0.0.0/24,fd00::/64
}

cases()
{
	local nl="ip netns exec ref $WGNL"
	run_case "remove an absent prefix" $nl set wg0 "$A" -10.9.0.0/24
	run_case "remove another peer's prefix" $nl set wg0 "$A" -10.1.0.0/24
	run_case "remove a wider prefix than the peer's" $nl set wg0 "$A" -10.0.0.0/16
	run_case "remove a narrower prefix than the peer's" $nl set wg0 "$A" -10.0.0.0/25
	run_case "remove with host bits set" $nl set wg0 "$A" -10.0.0.7/24
	run_case "remove an IPv6 prefix, exact" $nl set wg0 "$A" -fd00::/64
	run_case "remove, IPv6, host bits set" $nl set wg0 "$A" -fd00::1/64
	run_case "unknown flag bit 2 on an add" $nl set wg0 "$A" --flags 2 10.2.0.0/24
	run_case "unknown flag bits 3 (REMOVE_ME and 2)" $nl set wg0 "$A" --flags 3 10.0.0.0/24
	run_case "all flag bits" $nl set wg0 "$A" --flags 4294967295 10.0.0.0/24
	run_case "REPLACE_ALLOWEDIPS with an add and a remove" $nl set wg0 "$A" --replace 10.3.0.0/24 -10.0.0.0/24
	run_case "REPLACE_ALLOWEDIPS with only a remove" $nl set wg0 "$A" --replace -10.0.0.0/24
	run_case "REPLACE_ALLOWEDIPS, remove of a prefix it adds" $nl set wg0 "$A" --replace 10.3.0.0/24 -10.3.0.0/24
	run_case "remove for a new peer" $nl set wg0 "$C" -10.0.0.0/24
	run_case "remove, UPDATE_ONLY, absent peer" $nl set wg0 "$C" --update-only -10.0.0.0/24
	run_case "upstream wg: - and + in one set" uwg set wg0 peer "$A" allowed-ips -10.0.0.0/24,+10.4.0.0/24
	run_case "upstream wg: -, foreign prefix" uwg set wg0 peer "$A" allowed-ips -10.1.0.0/24
	run_case "upstream wg: plain list replaces" uwg set wg0 peer "$A" allowed-ips 10.5.0.0/24
	run_case "dump while another peer changes" dump_while_changing "$B" 10.1.0.0/24,10.6.0.0/24
	run_case "dump while the dumped peer gains a prefix" dump_while_changing "$A" +10.7.0.0/24
	run_case "dump while the dumped peer loses a prefix" dump_while_changing "$A" -10.200.11.71/32
	ip netns del ref 2>/dev/null
}

guest()
{
	local outdir=$1 m dep label
	shift
	for m in "$@"; do
		rmmod wireguard 2>/dev/null
		if [ "$m" = stock ]; then
			label=stock-$(uname -r)
			# guest-init forbids loading the stock module by name.
			modprobe --ignore-install wireguard || { echo "cannot load the stock module"; return 1; }
		else
			label=ours-$(uname -r)
			for dep in $(modinfo -F depends "$m" | tr , ' '); do
				modprobe "$dep" || return 1
			done
			insmod "$m" || return 1
		fi
		cases >"$outdir/$label.txt" 2>&1
		echo "reference: $label: $(grep -c '^== ' "$outdir/$label.txt") cases"
	done
	rmmod wireguard 2>/dev/null
	return 0
}

# A transcript without the extack messages of refused requests.
no_extack() { sed 's/^\(-- error: [^:]*\):.*/\1/'; }

# TAP: each case of each stock transcript against ours (of the same
# kernel when there is one, else of the newest).
compare()
{
	local dir=$1 ours stock n=0 bad=0 name
	ours=$(ls "$dir"/ours-*.txt 2>/dev/null | sort -V | tail -n 1)
	[ -n "$ours" ] || { echo "not ok 1 - no transcript of ours"; return 1; }
	for stock in "$dir"/stock-*.txt; do
		[ -e "$stock" ] || continue
		local same=$dir/ours-${stock##*/stock-}
		[ -e "$same" ] && ours=$same
		while IFS= read -r name; do
			n=$((n + 1))
			local a b ia ib info=
			a=$(awk -v c="== $name" '$0 == c { on = 1; next } /^== / { on = 0 } on' "$stock")
			b=$(awk -v c="== $name" '$0 == c { on = 1; next } /^== / { on = 0 } on' "$ours")
			# "info:" lines are shown, not compared.
			ia=$(sed -n 's/^-- info: //p' <<<"$a" | tr '\n' ' ')
			ib=$(sed -n 's/^-- info: //p' <<<"$b" | tr '\n' ' ')
			[ "$ia" = "$ib" ] || info=" # stock: ${ia% }; ours: ${ib% }"
			a=$(grep -v '^-- info: ' <<<"$a")
			b=$(grep -v '^-- info: ' <<<"$b")
			if [ "$a" = "$b" ]; then
				echo "ok $n - ${stock##*/}: $name$info"
			elif [ "$(no_extack <<<"$a")" = "$(no_extack <<<"$b")" ] &&
			     grep -q '^-- error: [^:]*: $' <<<"$a"; then
				# Upstream before 6.19 checks these by hand and
				# says nothing; its strict policy since, and ours,
				# name the reason.  Same errno, same end state.
				echo "ok $n - ${stock##*/}: $name # the stock module gives no extack message, ours does"
			else
				bad=$((bad + 1))
				echo "not ok $n - ${stock##*/} and ${ours##*/} differ: $name"
				diff <(echo "$a") <(echo "$b") | sed -n 's/^\([<>]\)/#  \1/p' |
					sed 's/#  </#  stock:/; s/#  >/#  ours: /'
			fi
		done < <(sed -n 's/^== //p' "$stock")
	done
	echo "1..$n"
	[ "$bad" = 0 ]
}

if [ "${1:-}" = --guest ]; then
	shift
	guest "$@"
	exit
fi

if [ $# -eq 0 ]; then
	set -- $("$here/trixie-root.sh" kernels)
fi
[ -x "$WGNL" ] || make -C "$top" -s selftests || exit 1
out=$top/build/reference
rm -rf "$out"
mkdir -p "$out"
for rel in "$@"; do
	mods=(stock)
	[ -e "$top/build/$rel/wireguard/wireguard.ko" ] && mods+=("$top/build/$rel/wireguard/wireguard.ko")
	"$here/qemu/run-vm.sh" -q -k "$rel" -t 900 -o "$out" -- \
		bash "$here/reference.sh" --guest /mnt/out "${mods[@]}" || exit 1
done
compare "$out"
