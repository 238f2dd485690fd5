# SPDX-License-Identifier: GPL-2.0
# Sourced: helpers that name the Debian kernels we build and test against.

# The newest installed Debian 6.12 release, leaving out our own debug builds
# (their suffix sorts above the stock release).
wg_default_kver()
{
	wg_newest_kver 6.12
}

# wg_newest_kver SERIES: the newest installed stock kernel of that series
# that has both an image and headers, e.g. 6.12 or 6.1, or 7 for the newest
# line, whose headers are in the trixie build root (trixie-root.sh).
wg_newest_kver()
{
	local series=$1 d k best=""
	local root=${WG_TRIXIE_CACHE:-/var/cache/wireguard-fork}/trixie
	for d in /lib/modules/"$series".*; do
		[ -d "$d" ] || continue
		k=${d##*/}
		case $k in *-wgdebug*) continue ;; esac
		[ -e "$d/build/Makefile" ] || [ -e "$root/usr/src/linux-headers-$k/Makefile" ] ||
			continue
		best=$(printf '%s\n%s\n' "$best" "$k" | sed '/^$/d' | sort -V | tail -n 1)
	done
	echo "$best"
}
