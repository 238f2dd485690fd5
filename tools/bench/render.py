#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Render a benchmark CSV (kernel,module,N,metric,value,unit,area) as Markdown.

Usage: render.py RESULTS.csv > RESULTS.md
Run metadata comes from BENCH_META_* environment variables (set by run.sh).

One table per metric: stock, ours and ours/stock (for times and memory a
ratio below 1 means ours is cheaper).  Metrics that only one module has are
compared against the stock metric named in COMPARE.
"""
import csv
import os
import platform
import subprocess
import sys
from collections import OrderedDict

# What each metric measures, and the exact command.  Areas added later can
# add their metrics here; unknown metrics are rendered without a description.
DESCRIBE = {
    "setconf_debwg": "Install N prefixes into an empty device: `/usr/bin/wg setconf wg0 conf-N` (Debian's wg for both modules).",
    "setconf_ourwg": "Same install with our wg: `tools/wg/wg setconf wg0 conf-N` (our module only).",
    "slab_bytes_per_prefix": "Slab memory per prefix: change of sum(num_objs*objsize) over /proc/slabinfo across the Debian-wg install, divided by N.",
    "meminfo_slab_bytes_per_prefix": "Same from the `Slab:` line of /proc/meminfo.",
    "dump_debwg": "`/usr/bin/wg show wg0 dump > /dev/null`.",
    "remove_one_full_replace_debwg": "Remove one prefix by full replace: `/usr/bin/wg setconf wg0 conf-N-minus1` (same peer, N-1 prefixes). The only way with the stock module; measured for both.",
    "remove_one_ourwg": "Remove one prefix incrementally: `tools/wg/wg set wg0 peer KEY allowed-ips -10.x.y.z/32` (WGALLOWEDIP_F_REMOVE_ME; our wg first probes the kernel for support).",
    "remove_one_wgnl": "Remove one prefix, one raw netlink request: `build/selftests/wgnl set wg0 KEY -10.x.y.z/32`.",
    "add_one_wgnl": "Add one prefix without replacing: `build/selftests/wgnl set wg0 KEY +10.x.y.z/32` (no flags; the same request for both modules).",
    "add_one_ourwg": "Add one prefix with our wg: `tools/wg/wg set wg0 peer KEY allowed-ips +10.x.y.z/32`.",
    "final_prefixes": "Sanity check: prefixes on the peer at the end (N - 1 - removals + additions).",
    "device_delete": "`ip link del wg0` with everything still installed.",
}

# Metrics measured for ours only, and the stock metric that does the same job.
COMPARE = {
    "setconf_ourwg": "setconf_debwg",
    "remove_one_ourwg": "remove_one_full_replace_debwg",
    "remove_one_wgnl": "remove_one_full_replace_debwg",
    "add_one_ourwg": "add_one_wgnl",
}


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    env = os.environ.get
    kver = env("BENCH_META_KVER") or (rows[0]["kernel"] if rows else "?")
    # data[area][metric][N][module] = (value, unit)
    data = OrderedDict()
    for r in rows:
        a = data.setdefault(r.get("area") or "-", OrderedDict())
        m = a.setdefault(r["metric"], OrderedDict())
        m.setdefault(r["N"], {})[r["module"]] = (float(r["value"]), r["unit"])

    meminfo = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    cpu = sh("awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo")
    build = env("BENCH_META_BUILD", "")
    commit = sh("git -C '%s' rev-parse --short HEAD" % build) if build else ""
    dirty = sh("git -C '%s' status --porcelain --untracked-files=no -- drivers tools/wg" % build) if build else ""

    print("# Benchmark: our WireGuard module vs stock, kernel %s\n" % kver)
    print("- Kernel (guest): %s" % kver)
    print("- Host: %s, nproc %s, memory %s, %s" % (platform.node(), os.cpu_count(), meminfo, cpu))
    print("- Guest: QEMU TCG (no KVM), %s CPUs, %s memory; both modules in the same boot (stock first, then ours)"
          % (env("BENCH_META_CPUS", "?"), env("BENCH_META_MEM", "?")))
    print("- Build tree: %s (commit %s%s)" % (build or "?", commit or "?", ", modified" if dirty else ""))
    print("- Our module: `%s`; our wg: `%s`; wgnl: `%s`; Debian's wg: `/usr/bin/wg` (%s)"
          % (env("BENCH_META_MODULE", "?"), env("BENCH_META_OUR_WG", "?"), env("BENCH_META_WGNL", "?"),
             sh("/usr/bin/wg --version") or "?"))
    print("- Stock module: /lib/modules/%s/kernel/drivers/net/wireguard/ (decompressed in the guest)" % kver)
    print("- Sizes: %s; VM status %s after %s s" % (env("BENCH_META_SIZES", "?"), env("BENCH_META_RC", "?"),
                                                   env("BENCH_META_DURATION", "?")))
    print("- VM command: `%s`" % env("BENCH_META_VM", "?"))
    print("- Times are wall clock (`date +%s.%N` deltas around one command, process start-up included); "
          "medians of 3 for N <= 10000, single runs above. Ratios are ours/stock: below 1 means ours is "
          "faster or smaller.\n")

    for area, metrics in data.items():
        print("## Area %s\n" % area)
        for metric, byn in metrics.items():
            unit = next(iter(next(iter(byn.values())).values()))[1]
            base = COMPARE.get(metric)
            print("### %s (%s)\n" % (metric, unit))
            if metric in DESCRIBE:
                print(DESCRIBE[metric] + "\n")
            if base:
                print("Compared with stock's `%s`.\n" % base)
                print("| N | stock (%s) | ours | ours/stock |" % base)
            else:
                print("| N | stock | ours | ours/stock |")
            print("|---:|---:|---:|---:|")
            for n, mods in byn.items():
                o = mods.get("ours", (None,))[0]
                if base:
                    s = metrics.get(base, {}).get(n, {}).get("stock", (None,))[0]
                else:
                    s = mods.get("stock", (None,))[0]
                ratio = "%.2f" % (o / s) if o is not None and s else "-"
                if metric == "final_prefixes":
                    ratio = "-"
                print("| %s | %s | %s | %s |" % (n, fmt(s), fmt(o), ratio))
            print()


if __name__ == "__main__":
    main()
