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
    "lookups_per_s": "AllowedIPs lookups per second in the transmit path: `build/bench/udpblast N S` "
                     "(tools/bench/udpblast.c) sends 16-byte datagrams, one sendto() each, to random installed "
                     "prefixes routed into wg0, whose peer has no endpoint; each costs the UDP/IP output path, "
                     "one lookup and the EDESTADDRREQ error after it. Higher is better.",
    "lookups_found_pct": "Sanity check of that loop: % of sendto() calls that found the peer (EDESTADDRREQ); "
                         "100 expected.",
    "spread_setconf_debwg": "The same N prefixes spread over P = min(N, 1000) peers (prefix i on peer i mod P): "
                            "install into an empty device, `/usr/bin/wg setconf wg0 spread-N`.",
    "spread_slab_bytes_per_prefix": "Slab memory of that install divided by N (the peers' own memory included: "
                                    "at N = 1000 that is one peer per prefix).",
    "spread_setconf_ourwg": "Same install with our wg (our module only).",
    "spread_dump_debwg": "`/usr/bin/wg show wg0 dump > /dev/null` of the spread configuration.",
    "spread_remove_one_replace_peer_debwg": "Remove one prefix, stock's way: replace the AllowedIPs of the one "
                                            "peer that holds it, `/usr/bin/wg addconf wg0 peer0-minus1` "
                                            "(its [Peer] with its N/P - 1 other prefixes). Measured for both.",
    "spread_remove_one_ourwg": "Remove one prefix incrementally: `tools/wg/wg set wg0 peer KEY allowed-ips -PREFIX`.",
    "spread_remove_one_wgnl": "Remove one prefix, one raw netlink request: `build/selftests/wgnl set wg0 KEY -PREFIX`.",
    "spread_final_prefixes": "Sanity check: prefixes at the end of the spread run.",
    "spread_device_delete": "`ip link del wg0` with the spread configuration installed.",
}

# Metrics measured for ours only, and the stock metric that does the same job.
COMPARE = {
    "setconf_ourwg": "setconf_debwg",
    "remove_one_ourwg": "remove_one_full_replace_debwg",
    "remove_one_wgnl": "remove_one_full_replace_debwg",
    "add_one_ourwg": "add_one_wgnl",
    "spread_setconf_ourwg": "spread_setconf_debwg",
    "spread_remove_one_ourwg": "spread_remove_one_replace_peer_debwg",
    "spread_remove_one_wgnl": "spread_remove_one_replace_peer_debwg",
}
# Sanity counts: no ratio.
NO_RATIO = {"final_prefixes", "spread_final_prefixes", "lookups_found_pct", "hs_round_timeouts"}


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


def print_legend(names):
    """A markdown list of what each name means, then a blank line."""
    for name, what in names.items():
        print("- `%s`: %s" % (name, what))
    print()


def render_throughput(metrics):
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
    print("A steady UDP stream (100-byte datagrams, python sendto() in a paced loop) from ns1 through the "
          "tunnel to 192.168.241.2/32, a prefix that stays configured, while wg1's peer has its AllowedIPs "
          "rewritten in a loop between two configurations of K prefixes (192.168.241.2/32 first; of the "
          "K - 1 others, the second half differs between the two). The sender counts successful sendto() "
          "calls (sent) and each error by errno; the receiver counts arrivals; lost = sent - received; "
          "reconfigs = rewrites done while the stream ran. Methods:\n")
    print_legend(BLIP_METHODS)

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


def num_key(n):
    try:
        return (0, float(n))
    except ValueError:
        return (1, n)


def render_generic(metrics, describe, compare, cols=("stock", "ours"), names=None):
    """One table per metric: N, stock, ours, ours/stock."""
    for metric, byn in metrics.items():
        unit = next(iter(next(iter(byn.values())).values()))[1]
        base = compare.get(metric)
        print("### %s (%s)\n" % (metric, unit))
        if metric in describe:
            print(describe[metric] + "\n")
        h = names or cols
        if base:
            print("Compared with %s's `%s`.\n" % (h[0], base))
            print("| N | %s (%s) | %s | %s/%s |" % (h[0], base, h[1], h[1], h[0]))
        else:
            print("| N | %s | %s | %s/%s |" % (h[0], h[1], h[1], h[0]))
        print("|---:|---:|---:|---:|")
        for n in sorted(byn, key=num_key):
            mods = byn[n]
            o = mods.get(cols[1], (None,))[0]
            if base:
                sv = metrics.get(base, {}).get(n, {}).get(cols[0], (None,))[0]
            else:
                sv = mods.get(cols[0], (None,))[0]
            ratio = "%.2f" % (o / sv) if o is not None and sv else "-"
            if metric in NO_RATIO:
                ratio = "-"
            print("| %s | %s | %s | %s |" % (n, fmt(sv), fmt(o), ratio))
        print()


HS_MANY = OrderedDict([
    ("hs_per_s", "handshakes/s: N / the median round"),
    ("hs_round_ms", "median round: from the first trigger datagram to the last arrival"),
    ("hs_round_ms_min", "fastest round"),
    ("hs_round_ms_max", "slowest round"),
    ("hs_round_timeouts", "rounds that did not complete within 30 s"),
])
HS_FLOOD = OrderedDict([
    ("tcp_noflood", ("Mbit/s", "`iperf3 -c 192.168.241.2 -t S`, one TCP stream wg1 -> wg2, no flood")),
    ("tcp_flood_bogus", ("Mbit/s", "the same while `handshakes.py flood bogus` sends random 148-byte type-1 "
                                   "messages (wrong MAC1) to wg2's port")),
    ("tcp_flood_mac1", ("Mbit/s", "the same under `handshakes.py flood mac1`: random initiations with a valid "
                                  "MAC1 for wg2's public key (a DH each until wg2 is under load, then cookie "
                                  "replies)")),
    ("flood_bogus_pps", ("datagrams/s", "what the bogus flooder sent")),
    ("flood_mac1_pps", ("datagrams/s", "what the MAC1 flooder sent")),
    ("flood_mac1_cookie_pct", ("%", "cookie replies the MAC1 flooder received, % of the initiations it sent "
                                    "(wg2 under load answers with cookies instead of doing the DH)")),
    ("hs_noflood_ms", ("ms", "wg1 down/up, then `ping -c 1 -i 0.2 -w 30` until the first reply: a new "
                             "handshake, no flood")),
    ("hs_mac1flood_ms", ("ms", "the same under the MAC1 flood (first initiation answered by a cookie, the "
                               "retry with MAC2 after REKEY_TIMEOUT = 5 s)")),
])


def median_cell(vals):
    lo, md, hi = stats(vals)
    return md, (fmt(md) if len(vals) == 1 else "%s [%s - %s] n=%d" % (fmt(md), fmt(lo), fmt(hi), len(vals)))


def render_handshakes(metrics):
    print("1. **Many initiators.** N initiator devices (one namespace) and one responder with N peers "
          "(another), sockets on a third namespace's loopback. Each round takes every initiator down and "
          "up (sessions gone, one `ip -batch`) and sends one datagram through each; every device does a full "
          "handshake (initiation, response, the datagram confirming the session) before its datagram "
          "arrives at the responder. Round = first sendto() to last arrival; both sides' crypto in the "
          "module under test; rounds after the first after setup. Higher handshakes/s is better.\n")
    print_legend(HS_MANY)
    many = OrderedDict((m, metrics[m]) for m in HS_MANY if m in metrics)
    render_generic(many, {}, {})
    print("2. **Handshake flood against a working tunnel** (tunnel-lib.sh: wg1 in ns1 -> wg2 in ns2). The "
          "flooder runs in ns0 next to the tunnel's sockets. Values are median [min - max] over the "
          "repetitions, modules interleaved. `retained` = median under the flood / median without.\n")
    for m, (unit, what) in HS_FLOOD.items():
        print("- `%s` (%s): %s" % (m, unit, what))
    print()
    print("| metric | unit | stock | ours | ours/stock (medians) |")
    print("|---|---|---:|---:|---:|")
    med = {}
    for m, (unit, _w) in HS_FLOOD.items():
        if m not in metrics:
            continue
        bymod = {}
        for n, mods in metrics[m].items():
            for mod, (v, _u) in mods.items():
                bymod.setdefault(mod, []).append(v)
        cell = {}
        for mod, vals in bymod.items():
            med[(m, mod)], cell[mod] = median_cell(vals)
        s_, o_ = med.get((m, "stock")), med.get((m, "ours"))
        ratio = "%.2f" % (o_ / s_) if s_ and o_ is not None else "-"
        print("| %s | %s | %s | %s | %s |" % (m, unit, cell.get("stock", "-"), cell.get("ours", "-"), ratio))
    for f in ("bogus", "mac1"):
        r = {}
        for mod in ("stock", "ours"):
            a, b = med.get(("tcp_flood_" + f, mod)), med.get(("tcp_noflood", mod))
            if a is not None and b:
                r[mod] = a / b
        if r:
            print("| retained under the %s flood | fraction | %s | %s | %s |" % (
                f, "%.2f" % r["stock"] if "stock" in r else "-", "%.2f" % r["ours"] if "ours" in r else "-",
                "%.2f" % (r["ours"] / r["stock"]) if r.get("stock") and "ours" in r else "-"))
    print()


WGTOOL_DESCRIBE = {
    "setconf": "`wg setconf wg0 CONF` into a fresh device",
    "dump": "`wg show wg0 dump > /dev/null`",
    "syncconf_same": "`wg syncconf wg0 CONF` of the configuration already installed (Debian's wg replaces "
                     "every peer's AllowedIPs; ours computes the difference, here none, and sends only that)",
}


def render_wgtool(metrics):
    print("Our wg (`tools/wg/wg`) against Debian's (`/usr/bin/wg`), both on OUR module, the same "
          "configuration files: N /32 prefixes on one peer (`1peer`) or spread over 1000 peers (`1kpeers`). "
          "Times: wall clock of the one process (tools/bench/runtime.c, vfork + wait4), medians of 3 for "
          "N <= 100000 (1 in quick mode); "
          "`_rss`: the tool's peak resident set size. Ratios are ours/Debian's: below 1 means ours is faster "
          "or smaller.\n")
    for k, v in WGTOOL_DESCRIBE.items():
        print("- `%s_*`: %s" % (k, v))
    print()
    render_generic(metrics, {}, {}, names=("Debian's wg", "our wg"))


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

    pngs, plot_note = {}, ""
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import plot
        pngs = plot.make_plots(sys.argv[1])
    except ImportError as e:
        plot_note = "no plots: %s (install python3-matplotlib)" % e

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
    if plot_note:
        print("- Plots: " + plot_note)
    elif pngs:
        print("- Plots: PNG files beside this report, drawn by tools/bench/plot.py with matplotlib")
    if "allowedips-scale" in data:
        print("- allowedips-scale: times are wall clock (`date +%s.%N` deltas around one command, process "
              "start-up included); medians of 3 for N <= 100000, single runs at 1M. Ratios are ours/stock: "
              "below 1 means ours is faster or smaller.")
    if "throughput" in data or "blip" in data:
        print("- throughput and blip share the host's 2 cores with other VMs and builds, under TCG: absolute "
              "numbers are noisy and far below real hardware; the stock and ours runs are interleaved in the "
              "same boot, so their ratios are what to read.")
    print()

    for area, metrics in data.items():
        print("## Area %s\n" % area)
        for fn, cap in pngs.get(area, []):
            print("![%s](%s)\n" % (cap, fn))
        if area == "throughput":
            render_throughput(metrics)
        elif area == "blip":
            render_blip(metrics)
        elif area == "handshakes":
            render_handshakes(metrics)
        elif area == "wg-tool":
            render_wgtool(metrics)
        else:
            render_generic(metrics, DESCRIBE, COMPARE)


if __name__ == "__main__":
    main()
