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


TP_DESCRIBE = OrderedDict([
    ("tcp1_fwd", ("Mbit/s", "`iperf3 -c 192.168.241.2 -t S -J`, one TCP stream 1 -> 2, receiver's rate")),
    ("tcp1_rev", ("Mbit/s", "the same with `-R` (2 -> 1)")),
    ("tcp4_fwd", ("Mbit/s", "four streams, `-P 4`, 1 -> 2")),
    ("tcp4_rev", ("Mbit/s", "four streams, `-P 4 -R`, 2 -> 1")),
    ("udp_rate", ("Mbit/s", "UDP at a fixed offered rate, `-u -b 50M -l 1300`: what arrived")),
    ("udp_loss", ("%", "loss % of that UDP run (iperf3's receiver)")),
    ("udp_tx_dropped", ("packets", "during the UDP run: tx_dropped of the sending device (wg1, veth1)")),
    ("udp_rx_dropped", ("packets", "rx_dropped of the receiving device (wg2, veth2)")),
    ("udp_rcvbuf_errors", ("packets", "UdpRcvbufErrors in ns2: the iperf3 server's socket overflowed")),
    ("udp_rcvbuf_errors_ns0", ("packets", "UdpRcvbufErrors in ns0, where the tunnel's sockets are")),
    ("ping_idle", ("ms", "average RTT, `ping -c 20 -i 0.05`, idle tunnel")),
    ("ping_load", ("ms", "the same while a one-stream TCP iperf3 runs")),
])

BLIP_METHODS = OrderedDict([
    ("deb-set", "Debian's wg, REPLACE_ALLOWEDIPS of the full list: `/usr/bin/wg set wg1 peer P allowed-ips LIST` "
                "(K = 10000: `/usr/bin/wg addconf wg1 peer.conf`, the same netlink request, as the list exceeds "
                "one argument's 128 KiB)"),
    ("deb-setconf", "`/usr/bin/wg setconf wg1 a.conf`: REPLACE_PEERS + REPLACE_ALLOWEDIPS"),
    ("our-pm", "our wg with the difference only: `tools/wg/wg set wg1 peer P allowed-ips -x,... allowed-ips +y,...`"),
    ("our-sync", "`tools/wg/wg syncconf wg1 a.conf` (incremental)"),
])
# What ours-only methods are compared with on the stock side.
BLIP_COMPARE = {"our-pm": "deb-set", "our-sync": "deb-set"}


def stats(vals):
    v = sorted(vals)
    return v[0], v[(len(v) - 1) // 2], v[-1]


def render_throughput(metrics):
    print("## Area throughput\n")
    print("Tunnel of selftests/wireguard/tunnel.sh (wg1 in ns1, wg2 in ns2, sockets on ns0's loopback). "
          "Modules interleaved stock, ours, stock, ours, ...; values are median [min - max] over the "
          "repetitions (n = count). veth: the same tests over a plain veth pair between the two "
          "namespaces, once, as the ceiling. Mbit/s: higher is better; ms and loss %: lower is better.\n")
    for m, (unit, what) in TP_DESCRIBE.items():
        print("- `%s` (%s): %s" % (m, unit, what))
    print()
    print("| metric | unit | stock | ours | ours/stock (medians) | veth | ours/veth |")
    print("|---|---|---:|---:|---:|---:|---:|")
    names = list(TP_DESCRIBE) + [m for m in metrics if m not in TP_DESCRIBE]
    for m in names:
        if m not in metrics:
            continue
        bymod = {}
        unit = "?"
        for n, mods in metrics[m].items():
            for mod, (v, u) in mods.items():
                bymod.setdefault(mod, []).append(v)
                unit = u
        cell, med = {}, {}
        for mod, vals in bymod.items():
            lo, md, hi = stats(vals)
            med[mod] = md
            cell[mod] = fmt(md) if len(vals) == 1 else "%s [%s - %s] n=%d" % (fmt(md), fmt(lo), fmt(hi), len(vals))
        def ratio(a, b):
            if a in med and b in med and med[b]:
                return "%.2f" % (med[a] / med[b])
            return "-"
        print("| %s | %s | %s | %s | %s | %s | %s |" % (m, unit, cell.get("stock", "-"), cell.get("ours", "-"),
              ratio("ours", "stock"), cell.get("veth", "-"), ratio("ours", "veth")))
    print()


def render_blip(metrics):
    # d[K][module][method][field] = value
    d = OrderedDict()
    for metric, byn in metrics.items():
        method, _, field = metric.partition("/")
        for k, mods in byn.items():
            for mod, (v, _u) in mods.items():
                d.setdefault(k, OrderedDict()).setdefault(mod, OrderedDict()).setdefault(method, {})[field] = v
    print("## Area blip\n")
    print("A steady UDP stream (100-byte datagrams, python sendto() in a paced loop) from ns1 through the "
          "tunnel to 192.168.241.2/32, a prefix that stays configured, while wg1's peer has its AllowedIPs "
          "rewritten in a loop between two configurations of K prefixes (192.168.241.2/32 first; of the "
          "K - 1 others, the second half differs between the two). The sender counts successful sendto() "
          "calls (sent) and each error by errno; the receiver counts arrivals; lost = sent - received; "
          "reconfigs = rewrites done while the stream ran. Methods:\n")
    for m, what in BLIP_METHODS.items():
        print("- `%s`: %s" % (m, what))
    print()

    def bad(f):
        att = f.get("attempts") or (f.get("sent", 0) + f.get("errors", 0))
        return 100.0 * (f.get("errors", 0) + f.get("lost", 0)) / att if att else None

    def pct(f, key):
        att = f.get("attempts") or (f.get("sent", 0) + f.get("errors", 0))
        return 100.0 * f.get(key, 0) / att if att else None

    for title, key in (("send errors, % of sendto() calls", "errors"),
                       ("lost datagrams, % of sendto() calls", "lost")):
        print("### blip: %s\n" % title)
        print("ours-only methods are compared with stock's `deb-set` (REPLACE of the full list). "
              "ours/stock: 0 means none for ours.\n")
        print("| K | method | stock | ours | ours/stock |")
        print("|---:|---|---:|---:|---:|")
        for k, mods in d.items():
            for m in BLIP_METHODS:
                o = mods.get("ours", {}).get(m)
                sm = BLIP_COMPARE.get(m, m)
                s = mods.get("stock", {}).get(sm)
                if o is None and (s is None or m in BLIP_COMPARE):
                    continue
                sv = pct(s, key) if s else None
                ov = pct(o, key) if o else None
                ratio = "%.2f" % (ov / sv) if sv and ov is not None else "-"
                label = m if sm == m else "%s (stock: %s)" % (m, sm)
                print("| %s | %s | %s | %s | %s |" % (k, label, fmt3(sv), fmt3(ov), ratio))
        print()

    print("### blip: all counts\n")
    errnos = sorted({f for k in d.values() for mo in k.values() for me in mo.values() for f in me
                     if f.startswith("err_")})
    head = ["K", "module", "method", "reconfigs (failed)", "attempts", "sent", "errors"] + \
        [e[4:] for e in errnos] + ["received", "lost", "errors+lost %", "prefixes after",
                                   "wg1 tx_dropped", "wg2 rx_dropped", "rcvbuf errors"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---:"] + ["---"] * 2 + ["---:"] * (len(head) - 3)) + "|")
    for k, mods in d.items():
        for mod, meths in mods.items():
            for m, f in meths.items():
                row = [k, mod, m, "%d (%d)" % (f.get("reconfigs", 0), f.get("reconf_failed", 0))]
                row += ["%d" % f.get(x, 0) for x in ["attempts", "sent", "errors"] + errnos + ["received", "lost"]]
                row += [fmt3(bad(f)), "%d" % f.get("prefixes_after", 0)]
                row += ["%d" % f[x] if x in f else "-" for x in ("tx_dropped", "rx_dropped", "rcvbuf_errors")]
                print("| " + " | ".join(row) + " |")
    print()


def fmt3(v):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    return "%.3f" % v if abs(v) < 10 else "%.1f" % v


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
    print("- Quick mode (BENCH_QUICK): %s" % env("BENCH_META_QUICK", "0"))
    if "allowedips-scale" in data:
        print("- allowedips-scale: times are wall clock (`date +%s.%N` deltas around one command, process "
              "start-up included); medians of 3 for N <= 10000, single runs above. Ratios are ours/stock: "
              "below 1 means ours is faster or smaller.")
    if "throughput" in data or "blip" in data:
        print("- throughput and blip share the host's 2 cores with other VMs and builds, under TCG: absolute "
              "numbers are noisy and far below real hardware; the stock and ours runs are interleaved in the "
              "same boot, so their ratios are what to read.")
    print()

    for area, metrics in data.items():
        if area == "throughput":
            render_throughput(metrics)
            continue
        if area == "blip":
            render_blip(metrics)
            continue
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
