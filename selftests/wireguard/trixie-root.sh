#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# trixie-root.sh [setup|path|exec CMD...|kernels]
#
# The newest kernels, those of Debian trixie-backports, need what bookworm
# cannot run: their kbuild and trixie's wg are linked against glibc 2.38,
# and Debian builds them with gcc 14.  This sets up, when missing:
#
#   $WG_TRIXIE_CACHE/trixie           a trixie build root (debootstrap
#                                     minbase, trixie-backports in its
#                                     sources) with gcc, make, libelf-dev, bc,
#                                     the headers of the newest
#                                     trixie-backports kernel and
#                                     trixie-backports' wireguard-tools
#   $WG_TRIXIE_CACHE/kernels/RELEASE  the stock image and modules of the
#                                     newest 6.18 and the newest kernel,
#                                     unpacked, depmod run, the image at
#                                     lib/modules/RELEASE/vmlinuz
#   /lib/modules/RELEASE              a link to the modules above, so that
#                                     run-vm.sh boots RELEASE and the guest
#                                     (which sees the host's / over 9p) finds
#                                     its modules where modprobe looks
#   build/trixie                      a link to the root
#
# The cache is machine-wide (default /var/cache/wireguard-fork), not under
# build/: `make check` runs in a fresh clone each time, and a debootstrap per
# run would cost minutes and hundreds of MB for nothing.  A root that is
# there is reused as it is; `trixie-root.sh setup` with WG_TRIXIE_REFRESH=1
# looks for newer kernels again.  Only Debian's archive is used, through the
# mirror of the host's own apt sources.
#
#   path      print the root (after setting it up)
#   exec ...  run a command inside the root, with this tree and /tmp bound
#             at their own paths and /proc, /dev, /sys mounted (private mount
#             namespace: nothing stays mounted afterwards)
#   kernels   print the releases unpacked for the VM, oldest first
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${WG_TRIXIE_CACHE:-/var/cache/wireguard-fork}
root=$cache/trixie
kdir=$cache/kernels
# The kernel lines to unpack for the VM: the LTS that first had REMOVE_ME,
# and the newest (whatever line it is on).
series=${WG_TRIXIE_SERIES:-6.18 newest}

log() { echo "trixie-root: $*" >&2; }
die() { log "$*"; exit 1; }

# The host's Debian mirror, from its deb822 or one-line sources.
host_mirror()
{
	local m
	m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/*$/\1/p' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
	[ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)\/\?[[:space:]].*/\2/p' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)
	echo "${m:-http://deb.debian.org/debian}"
}

# in_root CMD...: run CMD in the root with the usual file systems and this
# tree at its own path.
in_root()
{
	unshare -m /bin/bash -c '
		set -e
		r=$1 top=$2
		shift 2
		mount --make-rprivate /
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		mount --rbind /sys "$r/sys"
		mkdir -p "$r$top" "$r/tmp"
		mount --bind "$top" "$r$top"
		mount --bind /tmp "$r/tmp"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
			/bin/sh -c '\''cd "$0" 2>/dev/null || cd /; exec "$@"'\'' "$PWD" "$@"
	' in_root "$root" "$top" "$@"
}

# The newest release of a line ("6.18", "7", or "newest") that
# trixie-backports has a stock amd64 image of, e.g. 7.3.4+deb13-amd64.
newest_release()
{
	local want=$1
	in_root apt-cache pkgnames linux-image- |
		sed -n 's/^linux-image-\([0-9][0-9.]*[^-]*-amd64\)$/\1/p' |
		{ if [ "$want" = newest ]; then cat; else grep -E "^${want//./\\.}[.+-]"; fi; } |
		sort -V | tail -n 1
}

make_root()
{
	local mirror tmp t0=$SECONDS
	command -v debootstrap >/dev/null || {
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
			{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
	}
	mirror=$(host_mirror)
	tmp=$root.new
	rm -rf "$tmp"
	log "debootstrap trixie from $mirror into $root (a few minutes)"
	debootstrap --variant=minbase --include=ca-certificates trixie "$tmp" "$mirror" \
		>"$cache/debootstrap.log" 2>&1 || {
		tail -n 20 "$cache/debootstrap.log" >&2
		die "debootstrap failed (log: $cache/debootstrap.log)"
	}
	cat >"$tmp/etc/apt/sources.list" <<-EOF
	deb $mirror trixie main
	deb $mirror trixie-updates main
	deb $mirror trixie-backports main
	EOF
	# The root is only ever a build root: no documentation, no recommends.
	printf 'APT::Install-Recommends "false";\n' >"$tmp/etc/apt/apt.conf.d/90wg-norecommends"
	printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
		>"$tmp/etc/dpkg/dpkg.cfg.d/90wg-nodoc"
	mv "$tmp" "$root"
	in_root apt-get update -q >/dev/null
	in_root apt-get install -y -q gcc make libelf-dev bc kmod >/dev/null
	in_root apt-get install -y -q -t trixie-backports wireguard-tools >/dev/null
	log "root made in $((SECONDS - t0))s"
}

# The headers of the newest kernel, so that our module builds for it.
install_headers()
{
	local rel=$1
	[ -e "$root/usr/src/linux-headers-$rel/Makefile" ] && return 0
	log "installing linux-headers-$rel in the root"
	in_root apt-get install -y -q -t trixie-backports "linux-headers-$rel" >/dev/null
}

# The stock image and modules of one release, unpacked for the VM.
unpack_kernel()
{
	local rel=$1 dest=$kdir/$1 dl pkgs p
	if [ ! -e "$dest/.complete" ]; then
		log "unpacking the stock kernel $rel"
		rm -rf "$dest"
		mkdir -p "$dest"
		dl=$(mktemp -d "$root/var/tmp/dl.XXXXXX")
		# Up to 6.18 the image package holds vmlinuz and the modules;
		# since 6.19 it depends on linux-binary (vmlinuz), linux-modules
		# and linux-base (modules.builtin, without which modprobe fails
		# on built-in modules).
		pkgs=$(in_root apt-cache pkgnames "linux-" | grep -Fx -e "linux-image-$rel" \
			-e "linux-binary-$rel" -e "linux-modules-$rel" -e "linux-base-$rel")
		for p in $pkgs; do
			in_root sh -c "cd '${dl#"$root"}' && apt-get download -q -t trixie-backports '$p'" >/dev/null
		done
		for p in "$dl"/*.deb; do
			[ -e "$p" ] || die "nothing downloaded for $rel"
			dpkg-deb -x "$p" "$dest"
		done
		rm -rf "$dl"
		# Packages of a merged-/usr release ship usr/lib/modules.
		[ -e "$dest/lib" ] || ln -s usr/lib "$dest/lib"
		# run-vm.sh boots /lib/modules/RELEASE/vmlinuz when there is no
		# /boot/vmlinuz-RELEASE: where packages since 6.19 put it.
		[ -e "$dest/lib/modules/$rel/vmlinuz" ] || [ ! -e "$dest/boot/vmlinuz-$rel" ] ||
			ln -sfn "$dest/boot/vmlinuz-$rel" "$dest/lib/modules/$rel/vmlinuz"
		[ -e "$dest/lib/modules/$rel/vmlinuz" ] || die "no vmlinuz for $rel in $pkgs"
		[ -d "$dest/lib/modules/$rel/kernel" ] || die "no modules for $rel in $pkgs"
		depmod -b "$dest" "$rel" 2>&1 | grep -v '^depmod: WARNING: could not open modules.builtin.modinfo' >&2 || true
		touch "$dest/.complete"
	fi
	link_modules "$rel"
}

# /lib/modules/RELEASE -> the unpacked modules (a host never has these
# trixie releases installed; a real directory there is left alone).
link_modules()
{
	local rel=$1 want=$kdir/$1/lib/modules/$1
	if [ -L "/lib/modules/$rel" ]; then
		[ "$(readlink "/lib/modules/$rel")" = "$want" ] && return 0
		rm -f "/lib/modules/$rel"
	elif [ -e "/lib/modules/$rel" ]; then
		log "/lib/modules/$rel exists and is not ours: left as it is"
		return 0
	fi
	ln -s "$want" "/lib/modules/$rel"
}

setup()
{
	local s rel stamp=$cache/releases
	mkdir -p "$cache" "$kdir"
	exec 9>"$cache/.lock"
	flock 9
	[ -x "$root/usr/bin/gcc" ] && [ -x "$root/usr/bin/wg" ] || make_root
	if [ ! -s "$stamp" ] || [ "${WG_TRIXIE_REFRESH:-0}" = 1 ]; then
		in_root apt-get update -q >/dev/null
		: >"$stamp.new"
		for s in $series; do
			rel=$(newest_release "$s")
			[ -n "$rel" ] || die "trixie-backports has no kernel of the $s line"
			echo "$s $rel" >>"$stamp.new"
		done
		mv "$stamp.new" "$stamp"
	fi
	while read -r s rel; do
		[ "$s" = newest ] && install_headers "$rel"
		unpack_kernel "$rel"
	done <"$stamp"
	mkdir -p "$top/build"
	ln -sfn "$root" "$top/build/trixie"
}

case ${1:-setup} in
setup) setup ;;
path) setup; echo "$root" ;;
exec) shift; [ -d "$root/usr" ] || setup; in_root "$@" ;;
kernels) setup; awk '{ print $2 }' "$cache/releases" | sort -uV ;;
*) sed -n '3,37p' "$0" >&2; exit 2 ;;
esac
