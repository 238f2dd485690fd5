#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""PNG plots of a benchmark CSV (kernel,module,N,metric,value,unit,area).

Usage: plot.py RESULTS.csv     writes RESULTS-<plot>.png beside it
As a module (render.py): make_plots(csv_path) -> {area: [(png name, caption)]}

Drawn with matplotlib (Debian: python3-matplotlib), Agg backend, no display.
Time and memory against N on log-log axes, stock against ours; errors and
losses of the blip test; handshake rates and the flood's effect.
"""
import csv
import os
import sys
from collections import OrderedDict

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STOCK = dict(color="#d62728")
OURS = dict(color="#1f77b4")
OURS2 = dict(color="#2ca02c")


def load(path):
    # data[area][metric][module][N] = value
    data = OrderedDict()
    for r in csv.DictReader(open(path)):
        a = data.setdefault(r.get("area") or "-", OrderedDict())
        a.setdefault(r["metric"], {}).setdefault(r["module"], OrderedDict())[r["N"]] = float(r["value"])
    return data


def series(metrics, metric, module):
    """Sorted (N, value) of one metric and module, N numeric."""
    d = metrics.get(metric, {}).get(module, {})
    pts = []
    for n, v in d.items():
        try:
            pts.append((float(n), v))
        except ValueError:
            pass
    return sorted(pts)


def line(ax, metrics, metric, module, label, style, dashed=False):
    pts = [(n, v) for n, v in series(metrics, metric, module) if v > 0]
    if not pts:
        return False
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label,
            linestyle="--" if dashed else "-", **style)
    return True


def loglog(ax, title, ylabel, xlabel="N (prefixes)"):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7)


def save(fig, stem, name, out):
    fig.tight_layout()
    fn = "%s-%s.png" % (stem, name)
    fig.savefig(os.path.join(out, fn), dpi=90)
    plt.close(fig)
    return fn


def plot_allowedips(m, stem, out):
    res = []
    fig, axs = plt.subplots(1, 3, figsize=(15, 4.6))
    ax = axs[0]
    line(ax, m, "setconf_debwg", "stock", "stock, 1 peer", STOCK)
    line(ax, m, "setconf_debwg", "ours", "ours, 1 peer (Debian's wg)", OURS)
    line(ax, m, "setconf_ourwg", "ours", "ours, 1 peer (our wg)", OURS2)
    line(ax, m, "spread_setconf_debwg", "stock", "stock, 1k peers", STOCK, True)
    line(ax, m, "spread_setconf_debwg", "ours", "ours, 1k peers", OURS, True)
    loglog(ax, "install N prefixes (setconf)", "ms")
    ax = axs[1]
    line(ax, m, "remove_one_full_replace_debwg", "stock", "stock: full replace, 1 peer", STOCK)
    line(ax, m, "remove_one_wgnl", "ours", "ours: -prefix (one request), 1 peer", OURS)
    line(ax, m, "remove_one_ourwg", "ours", "ours: wg set -prefix, 1 peer", OURS2)
    line(ax, m, "spread_remove_one_replace_peer_debwg", "stock", "stock: replace that peer, 1k peers", STOCK, True)
    line(ax, m, "spread_remove_one_wgnl", "ours", "ours: -prefix, 1k peers", OURS, True)
    loglog(ax, "remove one prefix", "ms")
    ax = axs[2]
    line(ax, m, "dump_debwg", "stock", "stock, 1 peer", STOCK)
    line(ax, m, "dump_debwg", "ours", "ours, 1 peer", OURS)
    line(ax, m, "spread_dump_debwg", "stock", "stock, 1k peers", STOCK, True)
    line(ax, m, "spread_dump_debwg", "ours", "ours, 1k peers", OURS, True)
    loglog(ax, "wg show dump (Debian's wg)", "ms")
    res.append((save(fig, stem, "allowedips-time", out),
                "AllowedIPs scale: time against N, log-log (lower is better)"))

    fig, axs = plt.subplots(1, 2, figsize=(10, 4.6))
    ax = axs[0]
    line(ax, m, "slab_bytes_per_prefix", "stock", "stock, 1 peer", STOCK)
    line(ax, m, "slab_bytes_per_prefix", "ours", "ours, 1 peer", OURS)
    line(ax, m, "spread_slab_bytes_per_prefix", "stock", "stock, 1k peers (peers included)", STOCK, True)
    line(ax, m, "spread_slab_bytes_per_prefix", "ours", "ours, 1k peers (peers included)", OURS, True)
    loglog(ax, "slab memory per prefix", "bytes")
    ax = axs[1]
    line(ax, m, "lookups_per_s", "stock", "stock", STOCK)
    line(ax, m, "lookups_per_s", "ours", "ours", OURS)
    loglog(ax, "transmit-path lookups per second (udpblast)", "sendto()/s")
    res.append((save(fig, stem, "allowedips-memory", out),
                "AllowedIPs scale: memory per prefix and lookups per second against N, log-log"))
    return res


def plot_wgtool(m, stem, out):
    fig, axs = plt.subplots(1, 4, figsize=(19, 4.6))
    for ax, what, title in zip(axs, ("setconf", "dump", "syncconf_same", "setconf"),
                               ("wg setconf", "wg show dump", "wg syncconf (unchanged config)",
                                "peak RSS of wg setconf")):
        rss = ax is axs[3]
        suf = "_rss" if rss else ""
        line(ax, m, "%s_1peer%s" % (what, suf), "stock", "Debian's wg, 1 peer", STOCK)
        line(ax, m, "%s_1peer%s" % (what, suf), "ours", "our wg, 1 peer", OURS)
        line(ax, m, "%s_1kpeers%s" % (what, suf), "stock", "Debian's wg, 1k peers", STOCK, True)
        line(ax, m, "%s_1kpeers%s" % (what, suf), "ours", "our wg, 1k peers", OURS, True)
        loglog(ax, title + " (our module)", "KiB" if rss else "ms")
    return [(save(fig, stem, "wg-tool", out), "wg(8): our wg against Debian's on our module, log-log")]


def plot_blip(m, stem, out):
    # m["METHOD/FIELD"][module][K]
    d = {}
    for metric, mods in m.items():
        meth, _, field = metric.partition("/")
        for mod, byk in mods.items():
            for k, v in byk.items():
                d.setdefault((k, mod, meth), {})[field] = v
    rows = []
    ks = sorted({k for k, _, _ in d}, key=lambda x: float(x))
    for k in ks:
        for mod, meth in (("stock", "deb-set"), ("stock", "deb-setconf"), ("ours", "deb-set"),
                          ("ours", "deb-setconf"), ("ours", "our-pm"), ("ours", "our-sync")):
            f = d.get((k, mod, meth))
            if not f:
                continue
            att = f.get("attempts") or (f.get("sent", 0) + f.get("errors", 0))
            if not att:
                continue
            rows.append(("K=%s\n%s\n%s" % (k, mod, meth), 100.0 * f.get("errors", 0) / att,
                         100.0 * max(f.get("lost", 0), 0) / att, mod))
    if not rows:
        return []
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(rows) + 2), 4.8))
    x = range(len(rows))
    w = 0.4
    ax.bar([i - w / 2 for i in x], [r[1] for r in rows], w, label="send errors %",
           color=["#d62728" if r[3] == "stock" else "#1f77b4" for r in rows])
    ax.bar([i + w / 2 for i in x], [r[2] for r in rows], w, label="lost %",
           color=["#ff9896" if r[3] == "stock" else "#aec7e8" for r in rows])
    for i, r in enumerate(rows):
        if r[1] == 0 and r[2] == 0:
            ax.text(i, 0, "0", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x))
    ax.set_xticklabels([r[0] for r in rows], fontsize=7)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylabel("% of sendto() calls (symlog)")
    ax.set_title("blip: UDP stream while AllowedIPs are rewritten in a loop "
                 "(left bar errors, right bar lost; red stock, blue ours)", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    return [(save(fig, stem, "blip", out), "blip: send errors and losses by K, module and method")]


def plot_handshakes(m, stem, out):
    res = []
    fig, axs = plt.subplots(1, 2, figsize=(11, 4.6))
    ax = axs[0]
    line(ax, m, "hs_per_s", "stock", "stock", STOCK)
    line(ax, m, "hs_per_s", "ours", "ours", OURS)
    loglog(ax, "handshakes per second, N initiators at once", "handshakes/s", "N (initiators)")
    ax = axs[1]
    conds = ("tcp_noflood", "tcp_flood_bogus", "tcp_flood_mac1")
    labels = ("no flood", "bogus flood", "valid-MAC1 flood")
    w = 0.38
    for j, (mod, st) in enumerate((("stock", STOCK), ("ours", OURS))):
        vals = []
        for c in conds:
            v = sorted(m.get(c, {}).get(mod, {}).values())
            vals.append(v[(len(v) - 1) // 2] if v else 0)
        ax.bar([i + (j - 0.5) * w for i in range(len(conds))], vals, w, label=mod, **st)
    ax.set_xticks(range(len(conds)))
    ax.set_xticklabels(labels)
    ax.set_ylabel("Mbit/s (median)")
    ax.set_title("legitimate peer's TCP throughput under a handshake flood", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    res.append((save(fig, stem, "handshakes", out), "handshakes: rate with many initiators; throughput under a flood"))
    return res


def plot_throughput(m, stem, out):
    names = [n for n in ("tcp1_fwd", "tcp1_rev", "tcp4_fwd", "tcp4_rev", "udp_rate") if n in m]
    if not names:
        return []
    fig, ax = plt.subplots(figsize=(9, 4.4))
    w = 0.27
    for j, (mod, st) in enumerate((("stock", STOCK), ("ours", OURS), ("veth", dict(color="#7f7f7f")))):
        vals = []
        for n in names:
            v = sorted(m[n].get(mod, {}).values())
            vals.append(v[(len(v) - 1) // 2] if v else 0)
        ax.bar([i + (j - 1) * w for i in range(len(names))], vals, w, label=mod, **st)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_yscale("log")
    ax.set_ylabel("Mbit/s (median, log)")
    ax.set_title("tunnel throughput (veth: no tunnel, the ceiling)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return [(save(fig, stem, "throughput", out), "throughput: stock, ours and the plain veth")]


PLOTS = {
    "allowedips-scale": plot_allowedips,
    "wg-tool": plot_wgtool,
    "blip": plot_blip,
    "handshakes": plot_handshakes,
    "throughput": plot_throughput,
}


def make_plots(path):
    data = load(path)
    out = os.path.dirname(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    res = {}
    for area, metrics in data.items():
        if area in PLOTS:
            try:
                res[area] = PLOTS[area](metrics, stem, out)
            except Exception as e:  # a bad plot must not lose the report
                sys.stderr.write("plot.py: %s: %s\n" % (area, e))
    return res


if __name__ == "__main__":
    for area, pngs in make_plots(sys.argv[1]).items():
        for fn, cap in pngs:
            print("%s: %s (%s)" % (area, fn, cap))
