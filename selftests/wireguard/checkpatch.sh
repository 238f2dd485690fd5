#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs the kernel's checkpatch.pl --strict over our driver, UAPI header and
# selftests' C, with the script taken from Debian's linux-source-6.12.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$top/build/checkpatch
if [ ! -x "$dir/scripts/checkpatch.pl" ]; then
	tarball=$(ls /usr/src/linux-source-6.12*.tar.xz 2>/dev/null | sort -V | tail -n 1)
	[ -n "$tarball" ] || { echo "checkpatch: install linux-source-6.12" >&2; exit 1; }
	mkdir -p "$dir"
	tar -xJf "$tarball" -C "$dir" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi
cd "$top"
files=$(ls drivers/net/wireguard/*.[ch] drivers/net/wireguard/selftest/*.[ch] \
	include/uapi/linux/wireguard.h 2>/dev/null)
# --no-tree: we are not a kernel tree; SPDX line checks still apply.
"$dir/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore FILE_PATH_CHANGES,LINUX_VERSION_CODE -f $files
