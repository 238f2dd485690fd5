#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bounded stress: one device (the hub) and many peers, traffic through all of
# them both ways, while five processes rewrite the configuration at once for
# STRESS_SECONDS.  Then the hub moves between namespaces under traffic, is
# deleted, the rest goes with its namespace, and the module must unload with
# nothing left allocated.
#
#   $netns1  hub wg0  10.6.0.1 fd06::1, and 10.6.K.1 fd06::K:1 (AnyIP on lo)
#   $netns2  spokes wsK (K = 1..STRESS_SPOKES), one device per peer of the
#            hub: 10.7.K.2 fd07::K:2, routes to 10.6.K.0/24 fd06::K:0/112
#   $netns0  every UDP socket: the devices are created there and moved
#   $netns3  where the hub moves to at the end
#
# Each spoke is a real peer of the hub with real traffic; the hub also has up
# to STRESS_FAKES peers that never answer (their traffic is only queued and
# their handshakes go nowhere).  The churn, each process owning its part of
# the configuration so that the final state is known exactly:
#
#   device     the hub's private key (swapped away and back), listen port,
#              fwmark, MTU, down/up
#   rotate     the second half of the spokes: removed from the hub and added
#              back, their private key, port and preshared key changed
#              (our syncconf, wg set), a new key added before the old one is
#              removed (the prefixes move to it)
#   allowedips the first half of the spokes' allowed IPs on the hub: replace,
#              our +/-, several peers in one request, prefixes moving between
#              peers, 150 at a time, none at all
#   stable     the first half of the spokes' own devices (our syncconf,
#              Debian's setconf, +/-) and their preshared key and keepalive
#              on the hub
#   fakes      the peers that never answer: added and removed in batches,
#              addconf, changed
#
# STRESS_SPOKES (2..250) and STRESS_FAKES (up to 256) set the number of peers,
# STRESS_RATE the datagrams per second each way, STRESS_MOVES how often the
# hub moves; the defaults take about two minutes in a TCG VM.
#
# Every command must succeed, and each process reads back after every change
# what it owns.  Afterwards the configuration must be exactly the model's,
# every spoke must answer a fresh ping, and the kernel must have said nothing.
# Bugs the kernel itself reports (WARN, BUG, lockdep...) also fail the VM run.

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
WG=${WG:-$here/../../tools/wg/wg}
PY=/usr/bin/python3
STRESS_SECONDS=${STRESS_SECONDS:-50}
STRESS_SPOKES=${STRESS_SPOKES:-32}
STRESS_FAKES=${STRESS_FAKES:-64}
STRESS_RATE=${STRESS_RATE:-600}
STRESS_MOVES=${STRESS_MOVES:-2}
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
umask 077

netns3="wg-test-$$-3"
n3() { ip netns exec "$netns3" "$@"; }
ip3() { ip -n "$netns3" "$@"; }

# Background processes, each the leader of its own process group (setsid
# execs in place, and so does ip netns exec), so that killing the group also
# kills whatever it started: wg, nsenter, iperf3.
declare -A bg_pid=()

bg_start()
{
	local name=$1 netns=$2
	shift 2
	setsid ip netns exec "$netns" "$@" >"$tmp/$name.out" 2>&1 </dev/null &
	bg_pid[$name]=$!
}

# bg_wait NAME FILE SECONDS: wait until NAME wrote FILE (it is finishing),
# then reap it; kill its group if it takes longer.  Its exit status.
bg_wait()
{
	local name=$1 file=$2 secs=$3 pid=${bg_pid[$1]:-} i rc
	[ -n "$pid" ] || return 1
	for ((i = 0; i < secs * 10; i++)); do
		[ -e "$file" ] && break
		[ -d "/proc/$pid" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
		sleep 0.1
	done
	[ -e "$file" ] || kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	# Whatever it left behind in its group.
	kill -KILL -- "-$pid" 2>/dev/null
	unset "bg_pid[$name]"
	return "$rc"
}

bg_kill_all()
{
	local name
	for name in "${!bg_pid[@]}"; do
		kill -KILL -- "-${bg_pid[$name]}" 2>/dev/null
		wait "${bg_pid[$name]}" 2>/dev/null
		unset "bg_pid[$name]"
	done
}

cleanup()
{
	bg_kill_all
	netns_cleanup
	ip netns del "$netns3" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# Killed (run-tests.sh's timeout): still clean up, the loops are in sessions
# of their own that no signal to this script reaches.
trap 'exit 143' TERM INT HUP

cat >"$tmp/stress.py" <<'EOF'
"""Helper of stress.sh: setup plan, traffic, churn processes, the model."""
import base64, collections, errno, ipaddress, json, os, random, select
import socket, struct, subprocess, sys, time, traceback

TMP = sys.argv[2] if len(sys.argv) > 2 else "."
PORT_HUB, PORT_SPOKE, PORT_FAKE, PORT_DATA = 20000, 21000, 40000, 9000


def path(*parts):
    return os.path.join(TMP, *parts)


def load(name):
    with open(path(name)) as f:
        return json.load(f)


def save(name, obj):
    with open(path(name + ".new"), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(path(name + ".new"), path(name))


def b64(raw):
    return base64.b64encode(raw).decode()


def new_psk():
    return b64(os.urandom(32))


def key_file(key):
    """A file holding KEY (or nothing, which clears a preshared key)."""
    if key is None:
        return "/dev/null"
    name = path("keys", "k-" + base64.b32encode(base64.b64decode(key)).decode().rstrip("=") + ".key")
    if not os.path.exists(name):
        with open(name + ".new", "w") as f:
            f.write(key + "\n")
        os.replace(name + ".new", name)
    return name


def norm_prefix(p):
    return str(ipaddress.ip_network(p, strict=False))


def norm_prefixes(ps):
    return sorted(set(norm_prefix(p) for p in ps))


def hub_base(k):
    return norm_prefixes(["10.7.%d.0/24" % k, "fd07::%x:0/112" % k])


SPOKE_BASE = norm_prefixes(["10.6.0.0/16", "fd06::/16"])
# Extra prefixes for the hub's stable peers (they move between them) and for
# the spokes' own peer (each spoke is its own device: no moving).
HUB_POOL = norm_prefixes(["10.100.%d.0/24" % i for i in range(40)] +
                         ["fd10:%x::/48" % i for i in range(40)] +
                         ["10.101.%d.%d/32" % (i, i * 7 % 256) for i in range(40)])
SPOKE_POOL = norm_prefixes(["172.16.%d.0/24" % i for i in range(24)] +
                           ["fd16:%x::/48" % i for i in range(24)])


def fake_allowed(i):
    return norm_prefixes(["10.200.%d.0/24" % i, "fd20::%x:0/112" % i])


def peer_model(psk=None, endpoint="(none)", allowed=(), keepalive=0):
    return {"psk": psk or "(none)", "endpoint": endpoint,
            "allowed": norm_prefixes(allowed),
            "keepalive": str(keepalive) if keepalive else "off"}


# --- wg show dump ------------------------------------------------------------

def parse_dump(text, iface=None):
    """{iface: {priv, pub, port, fwmark, peers: {pub: peer_model}}}"""
    devs = {}
    for line in text.splitlines():
        f = line.split("\t")
        if iface is not None:
            f.insert(0, iface)
        if len(f) == 5:
            devs[f[0]] = {"priv": f[1], "pub": f[2], "port": f[3],
                          "fwmark": f[4], "peers": {}}
        elif len(f) == 9:
            allowed = [] if f[4] == "(none)" else f[4].split(",")
            devs[f[0]]["peers"][f[1]] = {"psk": f[2], "endpoint": f[3],
                                         "allowed": norm_prefixes(allowed),
                                         "keepalive": f[8]}
        else:
            raise ValueError("unexpected dump line %r" % line)
    return devs


def diff_peer(what, want, got):
    out = []
    for field in ("psk", "endpoint", "allowed", "keepalive"):
        if field not in want or want[field] == "*":
            continue
        if want[field] != got.get(field):
            out.append("%s %s: want %s, got %s" % (what, field, want[field], got.get(field)))
    return out


def diff_dev(name, want, got):
    out = []
    for field in ("priv", "pub", "port", "fwmark"):
        if field in want and want[field] != got.get(field):
            out.append("%s %s: want %s, got %s" % (name, field, want[field], got.get(field)))
    wp, gp = want["peers"], got.get("peers", {})
    for pub in sorted(set(wp) - set(gp)):
        out.append("%s: peer %s missing" % (name, pub))
    for pub in sorted(set(gp) - set(wp)):
        out.append("%s: unexpected peer %s %s" % (name, pub, gp[pub]))
    for pub in sorted(set(wp) & set(gp)):
        out += diff_peer("%s peer %s" % (name, pub), wp[pub], gp[pub])
    return out


# --- the plan ------------------------------------------------------------------

def plan(nspokes, nfakes, wg_ref, wg, ns):
    os.makedirs(path("keys"), exist_ok=True)
    os.makedirs(path("conf"), exist_ok=True)
    rng = random.Random()

    def keypair():
        raw = bytearray(os.urandom(32))
        raw[0] &= 248
        raw[31] = (raw[31] & 127) | 64
        priv = b64(bytes(raw))
        pub = subprocess.run([wg, "pubkey"], input=priv + "\n", capture_output=True,
                             text=True, check=True).stdout.strip()
        key_file(priv)
        return {"priv": priv, "pub": pub}

    hub = {"keys": [keypair(), keypair()], "port": PORT_HUB,
           "final_port": PORT_HUB + rng.randrange(1, 100)}
    spokes = []
    for k in range(1, nspokes + 1):
        kind = "stable" if k <= nspokes // 2 else "rotate"
        spokes.append({"k": k, "kind": kind, "port": PORT_SPOKE + 10 * k,
                       "keys": [keypair() for _ in range(1 if kind == "stable" else 3)],
                       "psk": new_psk() if k % 2 else None})
    fakes = [b64(os.urandom(32)) for _ in range(nfakes)]
    cfg = {"wg_ref": wg_ref, "wg": wg, "ns": ns, "hub": hub, "spokes": spokes,
           "fakes": fakes, "pause": float(os.environ.get("STRESS_PAUSE", "0.02"))}
    save("cfg.json", cfg)

    with open(path("conf", "hub.conf"), "w") as f:
        f.write("[Interface]\nPrivateKey = %s\nListenPort = %d\n" % (hub["keys"][0]["priv"], hub["port"]))
        for s in spokes:
            f.write("\n[Peer]\nPublicKey = %s\n" % s["keys"][0]["pub"])
            if s["psk"]:
                f.write("PresharedKey = %s\n" % s["psk"])
            f.write("AllowedIPs = %s\n" % ", ".join(hub_base(s["k"])))
            f.write("Endpoint = 127.0.0.1:%d\n" % s["port"])
    for s in spokes:
        spoke_conf(s["k"], s["keys"][0]["priv"], s["port"], hub["keys"][0]["pub"], s["psk"],
                   SPOKE_BASE, 0, endpoint="127.0.0.1:%d" % hub["port"])
    with open(path("create.batch"), "w") as f:
        f.write("link add wg0 type wireguard\nlink set wg0 netns %s\n" % ns["hub"])
        for s in spokes:
            f.write("link add ws%d type wireguard\nlink set ws%d netns %s\n" % (s["k"], s["k"], ns["spokes"]))
    with open(path("spokes-up.batch"), "w") as f:
        for s in spokes:
            k = s["k"]
            f.write("link set ws%d up\n" % k)
            f.write("addr add 10.7.%d.2/32 dev ws%d\n" % (k, k))
            f.write("addr add fd07::%x:2/128 dev ws%d nodad\n" % (k, k))
            f.write("route add 10.6.%d.0/24 dev ws%d src 10.7.%d.2\n" % (k, k, k))
            f.write("route add fd06::%x:0/112 dev ws%d\n" % (k, k))
    with open(path("spokes-del.batch"), "w") as f:
        for s in spokes[::2]:
            f.write("link del ws%d\n" % s["k"])
    # Idempotent: after a move or a down/up, the hub gets these again.
    with open(path("hub-up.batch"), "w") as f:
        f.write("link set wg0 up\n"
                "addr replace 10.6.0.1/32 dev wg0\n"
                "addr replace fd06::1/128 dev wg0 nodad\n"
                "route replace 10.7.0.0/16 dev wg0\n"
                "route replace 10.200.0.0/16 dev wg0\n"
                "route replace fd07::/16 dev wg0\n"
                "route replace fd20::/16 dev wg0\n")
    with open(path("anyip.batch"), "w") as f:
        f.write("route add local 10.6.0.0/16 dev lo\nroute add local fd06::/16 dev lo\n")


def spoke_conf(k, priv, port, hub_pub, psk, allowed, keepalive, endpoint=None, name=None):
    name = name or path("conf", "ws%d.conf" % k)
    with open(name, "w") as f:
        f.write("[Interface]\nPrivateKey = %s\nListenPort = %d\n\n" % (priv, port))
        f.write("[Peer]\nPublicKey = %s\n" % hub_pub)
        # Both always given: syncconf leaves alone what the file omits.
        f.write("PresharedKey = %s\n" % (psk or b64(bytes(32))))
        f.write("AllowedIPs = %s\n" % ", ".join(allowed))
        f.write("PersistentKeepalive = %d\n" % keepalive)
        if endpoint:
            f.write("Endpoint = %s\n" % endpoint)
    return name


# --- traffic ---------------------------------------------------------------------

def traffic_send(side, rate):
    """UDP to every spoke (from the hub) or to the hub through every spoke,
    IPv4 and IPv6, sizes up to fragmentation; errors are counted, not fatal."""
    cfg = load("cfg.json")
    if side == "hub":
        targets = [(s["k"], "10.7.%d.2" % s["k"], "fd07::%x:2" % s["k"]) for s in cfg["spokes"]]
        fakes = [(1000 + i, "10.200.%d.1" % i, "fd20::%x:1" % i) for i in range(len(cfg["fakes"]))]
    else:
        targets = [(s["k"], "10.6.%d.1" % s["k"], "fd06::%x:1" % s["k"]) for s in cfg["spokes"]]
        fakes = []
    socks = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
             socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
    for s in socks:
        s.setblocking(False)
    pad = os.urandom(3000)
    rng = random.Random()
    sent, errors, seq = 0, collections.Counter(), 0
    start, n = time.monotonic(), 0
    report = start
    stats = "traffic-send-%s.json" % side
    while True:
        now = time.monotonic()
        if now >= report:
            save(stats, {"sent": sent, "errors": errors})
            if os.path.exists(path("traffic-stop")):
                break
            report = now + 1
        target = rng.choice(fakes) if fakes and rng.random() < 0.05 else rng.choice(targets)
        v6 = rng.random() < 0.5
        size = 2500 if rng.random() < 0.02 else rng.randrange(16, 1300)
        try:
            socks[v6].sendto(struct.pack("!HI", target[0], seq) + pad[:size],
                             (target[1 + v6], PORT_DATA))
            sent += 1
        except OSError as e:
            errors[errno.errorcode.get(e.errno, str(e.errno))] += 1
        seq += 1
        n += 1
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:
            # Starved for a while: do not make up for it in one burst.
            start, n = time.monotonic(), 0
    save(stats, {"sent": sent, "errors": errors, "done": True})
    open(path("traffic-send-%s.done" % side), "w").close()


def traffic_recv(side):
    """Counts what arrives, per spoke (the first two bytes say which)."""
    socks = []
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)    # SO_RCVBUFFORCE
        s.bind((addr, PORT_DATA))
        s.setblocking(False)
        socks.append(s)
    per, total = collections.Counter(), 0
    stats = "traffic-recv-%s.json" % side
    report = time.monotonic()
    while True:
        readable, _, _ = select.select(socks, [], [], 0.5)
        for s in readable:
            while True:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                if len(data) >= 6:
                    per[struct.unpack("!H", data[:2])[0]] += 1
                    total += 1
        if time.monotonic() >= report:
            save(stats, {"total": total, "per": per})
            if os.path.exists(path("traffic-stop")):
                break
            report = time.monotonic() + 1
    save(stats, {"total": total, "per": per, "done": True})
    open(path("traffic-recv-%s.done" % side), "w").close()


# --- churn ---------------------------------------------------------------------

class Churn:
    """One churn process: owns a part of the configuration and its model."""

    def __init__(self, name):
        self.name = name
        self.cfg = load("cfg.json")
        self.ns = self.cfg["ns"]
        self.rng = random.Random()
        self.ops, self.reads, self.nfail = 0, 0, 0
        self.failures, self.counts = [], collections.Counter()
        self.log = open(path("churn-%s.log" % name), "w", buffering=1)
        hub = self.cfg["hub"]
        self.hub_pub = hub["keys"][0]["pub"]
        self.spokes = {s["k"]: dict(s) for s in self.cfg["spokes"]}

    def tool(self):
        return self.rng.choice((self.cfg["wg_ref"], self.cfg["wg"]))

    def run_cmd(self, what, argv, ns=None):
        """ns: the namespace to run in when it is not this process's own."""
        if ns:
            argv = ["nsenter", "--net=/run/netns/" + ns] + argv
        p = subprocess.run(argv, capture_output=True, text=True)
        self.log.write("%s: %s -> %d\n" % (what, " ".join(argv), p.returncode))
        if p.returncode:
            self.fail("%s: %s: exit %d: %s" % (what, " ".join(argv), p.returncode, p.stderr.strip()))
        return p

    def op(self, what, argv, ns=None):
        self.ops += 1
        self.counts[what] += 1
        return self.run_cmd(what, argv, ns).returncode == 0

    def read(self, what, argv, ns=None):
        self.reads += 1
        p = self.run_cmd(what, argv, ns)
        return p.stdout if p.returncode == 0 else None

    def dump(self, iface, ns=None):
        text = self.read("read back " + iface, [self.tool(), "show", iface, "dump"], ns)
        return None if text is None else parse_dump(text, iface)[iface]

    def fail(self, msg):
        self.nfail += 1
        if len(self.failures) < 20:
            self.failures.append(msg)
        self.log.write("FAIL %s\n" % msg)

    def expect(self, diffs):
        for d in diffs:
            self.fail("read back: " + d)

    def stopping(self):
        return os.path.exists(path("churn-stop"))

    def main(self):
        try:
            self.setup()
            # At least one step, and a mark once it is done: the churn's
            # clock starts when every loop has made its first change.
            marked = False
            while True:
                self.step()
                if not marked:
                    open(path("churned-%s" % self.name), "w").close()
                    marked = True
                if self.stopping():
                    break
                time.sleep(self.rng.uniform(0, self.cfg["pause"]))
            self.finish()
        except Exception:
            self.fail("exception: " + traceback.format_exc())
        save("state-%s.json" % self.name, self.state())
        save("report-%s.json" % self.name, {"ops": self.ops, "reads": self.reads,
                                            "nfail": self.nfail, "failures": self.failures,
                                            "counts": self.counts})

    def setup(self):
        pass

    def finish(self):
        pass


class Device(Churn):
    """The hub's own settings: private key, listen port, fwmark, MTU, up."""

    def setup(self):
        hub = self.cfg["hub"]
        self.key, self.port, self.fwmark = 0, hub["port"], 0

    def check(self):
        dev = self.dump("wg0")
        if dev is None:
            return
        key = self.cfg["hub"]["keys"][self.key]
        self.expect(diff_dev("wg0", {"priv": key["priv"], "pub": key["pub"],
                                     "port": str(self.port),
                                     "fwmark": "0x%x" % self.fwmark if self.fwmark else "off",
                                     "peers": {}},
                             dict(dev, peers={})))

    def set(self, what, *args):
        if self.op(what, [self.tool(), "set", "wg0"] + list(args)):
            self.check()

    def step(self):
        hub = self.cfg["hub"]
        r = self.rng.random()
        if r < 0.15:
            # A key the spokes do not know, then the right one again.
            self.key = 1
            self.set("private key away", "private-key", key_file(hub["keys"][1]["priv"]))
            time.sleep(self.rng.uniform(0.2, 1))
            self.key = 0
            self.set("private key back", "private-key", key_file(hub["keys"][0]["priv"]))
        elif r < 0.5:
            self.port = self.rng.choice([p for p in range(PORT_HUB, PORT_HUB + 100) if p != self.port])
            self.set("listen port", "listen-port", str(self.port))
        elif r < 0.65:
            self.fwmark = self.rng.choice([0, 0x51, 0x1234])
            self.set("fwmark", "fwmark", str(self.fwmark))
        elif r < 0.8:
            self.op("mtu", ["ip", "link", "set", "wg0", "mtu", str(self.rng.choice([1280, 1380, 1420]))])
        elif r < 0.9:
            self.op("down", ["ip", "link", "set", "wg0", "down"])
            time.sleep(self.rng.uniform(0, 0.5))
            self.op("up", ["ip", "-batch", path("hub-up.batch")])
        else:
            # Everything at once, as one request.
            self.port = self.rng.choice([p for p in range(PORT_HUB, PORT_HUB + 100) if p != self.port])
            self.fwmark = 0
            self.set("key, port and fwmark", "private-key", key_file(hub["keys"][0]["priv"]),
                     "listen-port", str(self.port), "fwmark", "0")
        time.sleep(self.rng.uniform(0.3, 1))

    def finish(self):
        self.key, self.port, self.fwmark = 0, self.cfg["hub"]["final_port"], 0
        self.set("final", "private-key", key_file(self.cfg["hub"]["keys"][0]["priv"]),
                 "listen-port", str(self.port), "fwmark", "0")
        self.op("mtu", ["ip", "link", "set", "wg0", "mtu", "1420"])
        self.op("up", ["ip", "-batch", path("hub-up.batch")])

    def state(self):
        key = self.cfg["hub"]["keys"][self.key]
        return {"hub": {"priv": key["priv"], "pub": key["pub"], "port": str(self.port),
                        "fwmark": "0x%x" % self.fwmark if self.fwmark else "off"}}


class Rotate(Churn):
    """The second half of the spokes, both ends: their peer on the hub comes
    and goes, and their key, port and preshared key change."""

    def setup(self):
        self.mine = {k: s for k, s in self.spokes.items() if s["kind"] == "rotate"}
        for s in self.mine.values():
            s.update(ki=0, extras=[], rotations=0)

    def pub(self, s):
        return s["keys"][s["ki"]]["pub"]

    def hub_peer(self, s):
        return peer_model(s["psk"], "127.0.0.1:%d" % s["port"], hub_base(s["k"]))

    def spoke_dev(self, s):
        return {"priv": s["keys"][s["ki"]]["priv"], "pub": self.pub(s), "port": str(s["port"]),
                "fwmark": "off",
                "peers": {self.hub_pub: dict(peer_model(s["psk"], "*", SPOKE_BASE + s["extras"]),
                                             endpoint="*")}}

    def check_hub(self, s, absent=()):
        dev = self.dump("wg0")
        if dev is None:
            return
        pub = self.pub(s)
        if pub not in dev["peers"]:
            self.fail("read back: hub peer %s of ws%d missing" % (pub, s["k"]))
        else:
            self.expect(diff_peer("hub peer of ws%d" % s["k"], self.hub_peer(s), dev["peers"][pub]))
        for old in absent:
            if old in dev["peers"]:
                self.fail("read back: hub peer %s (old key of ws%d) still there" % (old, s["k"]))

    def check_spoke(self, s):
        iface = "ws%d" % s["k"]
        dev = self.dump(iface, self.ns["spokes"])
        if dev is not None:
            self.expect(diff_dev(iface, self.spoke_dev(s), dev))

    def hub_add(self, s):
        argv = [self.tool(), "set", "wg0", "peer", self.pub(s)]
        if s["psk"]:
            argv += ["preshared-key", key_file(s["psk"])]
        argv += ["allowed-ips", ",".join(hub_base(s["k"])), "endpoint", "127.0.0.1:%d" % s["port"]]
        return self.op("hub: add peer", argv)

    def hub_remove(self, pub):
        return self.op("hub: remove peer", [self.tool(), "set", "wg0", "peer", pub, "remove"])

    def step(self):
        s = self.rng.choice(list(self.mine.values()))
        k, old = s["k"], self.pub(s)
        r = self.rng.random()
        if r < 0.3:
            # Out and back in, same key.
            self.hub_remove(old)
            if self.rng.random() < 0.5:
                self.check_hub_absent(old)
            self.hub_add(s)
            self.check_hub(s)
        elif r < 0.6:
            # Out; the spoke gets a new key, port and preshared key (our
            # syncconf, no endpoint: it keeps the one it learnt); back in.
            self.hub_remove(old)
            s["ki"] = (s["ki"] + 1) % len(s["keys"])
            s["port"] = PORT_SPOKE + 10 * k + self.rng.choice([d for d in range(10) if PORT_SPOKE + 10 * k + d != s["port"]])
            s["psk"] = self.rng.choice([None, new_psk()])
            s["extras"] = self.rng.sample(SPOKE_POOL, self.rng.randrange(0, 4))
            s["rotations"] += 1
            conf = spoke_conf(k, s["keys"][s["ki"]]["priv"], s["port"], self.hub_pub, s["psk"],
                              SPOKE_BASE + s["extras"], 0)
            self.op("spoke: syncconf new key and port", [self.cfg["wg"], "syncconf", "ws%d" % k, conf],
                    self.ns["spokes"])
            self.check_spoke(s)
            self.hub_add(s)
            self.check_hub(s, absent=[old])
        elif r < 0.8:
            # The new key goes in first, taking the prefixes; then the old
            # one goes.
            s["ki"] = (s["ki"] + 1) % len(s["keys"])
            s["psk"] = self.rng.choice([None, new_psk()])
            s["rotations"] += 1
            self.hub_add(s)
            dev = self.dump("wg0")
            if dev is not None and old in dev["peers"] and dev["peers"][old]["allowed"]:
                self.fail("read back: old key of ws%d kept %s" % (k, dev["peers"][old]["allowed"]))
            self.op("spoke: new private key", [self.tool(), "set", "ws%d" % k,
                                               "private-key", key_file(s["keys"][s["ki"]]["priv"]),
                                               "peer", self.hub_pub,
                                               "preshared-key", key_file(s["psk"])],
                    self.ns["spokes"])
            self.check_spoke(s)
            self.hub_remove(old)
            self.check_hub(s, absent=[old])
        else:
            # A new preshared key, one end then the other.
            s["psk"] = self.rng.choice([None, new_psk()])
            ends = [("hub: preshared key", [self.tool(), "set", "wg0", "peer", old,
                                            "preshared-key", key_file(s["psk"])], None),
                    ("spoke: preshared key", [self.tool(), "set", "ws%d" % k, "peer", self.hub_pub,
                                              "preshared-key", key_file(s["psk"])], self.ns["spokes"])]
            self.rng.shuffle(ends)
            for what, argv, ns in ends:
                self.op(what, argv, ns)
            self.check_hub(s)
            self.check_spoke(s)

    def check_hub_absent(self, pub):
        text = self.read("read back peers", [self.tool(), "show", "wg0", "peers"])
        if text is not None and pub in text.split():
            self.fail("read back: removed peer %s is still there" % pub)

    def state(self):
        return {"hub_peers": {self.pub(s): self.hub_peer(s) for s in self.mine.values()},
                "spokes": {"ws%d" % s["k"]: self.spoke_dev(s) for s in self.mine.values()},
                "rotations": {str(s["k"]): s["rotations"] for s in self.mine.values()}}


class AllowedIPs(Churn):
    """The allowed IPs of the hub's stable peers."""

    def setup(self):
        self.mine = {k: s["keys"][0]["pub"] for k, s in self.spokes.items() if s["kind"] == "stable"}
        self.model = {k: set(hub_base(k)) for k in self.mine}

    def give(self, k, prefixes):
        """Prefixes added to peer k move away from the others."""
        for p in prefixes:
            for other in self.model.values():
                other.discard(p)
            self.model[k].add(p)

    def replace(self, k, prefixes):
        self.model[k] = set()
        self.give(k, prefixes)

    def step(self):
        ks = list(self.mine)
        r = self.rng.random()
        k = self.rng.choice(ks)
        if r < 0.3:
            new = hub_base(k) + self.rng.sample(HUB_POOL, self.rng.randrange(0, 9))
            self.rng.shuffle(new)
            self.op("replace", [self.tool(), "set", "wg0", "peer", self.mine[k], "allowed-ips", ",".join(new)])
            self.replace(k, new)
        elif r < 0.65:
            add = self.rng.sample(HUB_POOL, self.rng.randrange(1, 5))
            # Its own, another peer's (left alone), one nobody has.
            own = sorted(self.model[k] - set(hub_base(k)) - set(add))
            theirs = sorted(set().union(*(v for j, v in self.model.items() if j != k)) - set(add))
            remove = self.rng.sample(own, min(len(own), self.rng.randrange(0, 3)))
            remove += self.rng.sample(theirs, min(len(theirs), 1))
            remove += [p for p in self.rng.sample(HUB_POOL, 1) if p not in add and all(p not in v for v in self.model.values())]
            items = ["+" + p for p in add] + ["-" + p for p in remove]
            self.rng.shuffle(items)
            self.op("+/-", [self.cfg["wg"], "set", "wg0", "peer", self.mine[k], "allowed-ips", ",".join(items)])
            self.give(k, add)
            for p in remove:
                self.model[k].discard(p)
        elif r < 0.85:
            # Several peers in one request, overlapping: the last one listed
            # ends up with what they share.
            argv = [self.tool(), "set", "wg0"]
            shared = self.rng.sample(HUB_POOL, 2)
            picked = self.rng.sample(ks, min(3, len(ks)))
            for j in picked:
                new = hub_base(j) + shared + self.rng.sample(HUB_POOL, self.rng.randrange(0, 4))
                argv += ["peer", self.mine[j], "allowed-ips", ",".join(new)]
            self.op("several peers", argv)
            for i, j in enumerate(picked):
                self.replace(j, argv[3 + 4 * i + 3].split(","))
        elif r < 0.95:
            many = ["10.102.%d.%d/32" % (self.rng.randrange(256), self.rng.randrange(256)) for _ in range(150)]
            new = hub_base(k) + many
            self.op("150 prefixes", [self.cfg["wg"], "set", "wg0", "peer", self.mine[k], "allowed-ips", ",".join(new)])
            self.replace(k, new)
        elif k != 1:
            # None at all for a moment (spoke 1 keeps its own: the final
            # ping goes through it whatever happens).
            self.op("none", [self.tool(), "set", "wg0", "peer", self.mine[k], "allowed-ips", ""])
            self.replace(k, [])
            self.check()
            new = hub_base(k)
            self.op("back", [self.tool(), "set", "wg0", "peer", self.mine[k], "allowed-ips", ",".join(new)])
            self.replace(k, new)
        self.check()

    def check(self):
        text = self.read("read back allowed-ips", [self.tool(), "show", "wg0", "allowed-ips"])
        if text is None:
            return
        got = {}
        for line in text.splitlines():
            pub, _, rest = line.partition("\t")
            got[pub] = [] if rest.strip() in ("(none)", "") else norm_prefixes(rest.split())
        for k, pub in self.mine.items():
            want = sorted(self.model[k])
            if got.get(pub) != want:
                self.fail("read back: allowed IPs of ws%d's peer: want %s, got %s" % (k, want, got.get(pub)))

    def state(self):
        return {"hub_peers": {pub: {"allowed": sorted(self.model[k])} for k, pub in self.mine.items()}}


class Stable(Churn):
    """The first half of the spokes' own devices, and their preshared key and
    keepalive on the hub."""

    def setup(self):
        self.mine = {k: s for k, s in self.spokes.items() if s["kind"] == "stable"}
        for s in self.mine.values():
            s.update(extras=[], keepalive=0, hub_keepalive=0)

    def spoke_dev(self, s):
        return {"priv": s["keys"][0]["priv"], "pub": s["keys"][0]["pub"], "port": str(s["port"]),
                "fwmark": "off",
                "peers": {self.hub_pub: dict(peer_model(s["psk"], "*", SPOKE_BASE + s["extras"],
                                                        s["keepalive"]), endpoint="*")}}

    def hub_peer(self, s):
        m = peer_model(s["psk"], "127.0.0.1:%d" % s["port"], (), s["hub_keepalive"])
        del m["allowed"]
        return m

    def check(self, s):
        iface = "ws%d" % s["k"]
        dev = self.dump(iface)
        if dev is not None:
            self.expect(diff_dev(iface, self.spoke_dev(s), dev))
        dev = self.dump("wg0", self.ns["hub"])
        if dev is not None:
            pub = s["keys"][0]["pub"]
            if pub not in dev["peers"]:
                self.fail("read back: hub peer of ws%d missing" % s["k"])
            else:
                self.expect(diff_peer("hub peer of ws%d" % s["k"], self.hub_peer(s), dev["peers"][pub]))

    def hub_psk(self, s):
        self.op("hub: preshared key", [self.tool(), "set", "wg0", "peer", s["keys"][0]["pub"],
                                       "preshared-key", key_file(s["psk"])], self.ns["hub"])

    def step(self):
        s = self.rng.choice(list(self.mine.values()))
        k = s["k"]
        r = self.rng.random()
        if r < 0.45:
            s["psk"] = self.rng.choice([None, new_psk()])
            s["extras"] = self.rng.sample(SPOKE_POOL, self.rng.randrange(0, 6))
            s["keepalive"] = self.rng.choice([0, 0, 1, 25])
            conf = spoke_conf(k, s["keys"][0]["priv"], s["port"], self.hub_pub, s["psk"],
                              SPOKE_BASE + s["extras"], s["keepalive"])
            if self.rng.random() < 0.6:
                self.op("spoke: our syncconf", [self.cfg["wg"], "syncconf", "ws%d" % k, conf])
            else:
                self.op("spoke: Debian's setconf", [self.cfg["wg_ref"], "setconf", "ws%d" % k, conf])
            self.hub_psk(s)
        elif r < 0.7:
            if self.rng.random() < 0.5:
                s["extras"] = self.rng.sample(SPOKE_POOL, self.rng.randrange(0, 6))
                self.op("spoke: replace allowed IPs",
                        [self.tool(), "set", "ws%d" % k, "peer", self.hub_pub,
                         "allowed-ips", ",".join(SPOKE_BASE + s["extras"])])
            else:
                add = self.rng.sample(SPOKE_POOL, 2)
                gone = [p for p in s["extras"] if p not in add][:1]
                items = ["+" + p for p in add] + ["-" + p for p in gone]
                self.op("spoke: +/-", [self.cfg["wg"], "set", "ws%d" % k, "peer", self.hub_pub,
                                       "allowed-ips", ",".join(items)])
                s["extras"] = sorted((set(s["extras"]) | set(add)) - set(gone))
        elif r < 0.85:
            s["hub_keepalive"] = self.rng.choice([0, 1, 10])
            self.op("hub: keepalive", [self.tool(), "set", "wg0", "peer", s["keys"][0]["pub"],
                                       "persistent-keepalive", str(s["hub_keepalive"] or "off")],
                    self.ns["hub"])
        else:
            s["psk"] = self.rng.choice([None, new_psk()])
            self.op("spoke: preshared key", [self.tool(), "set", "ws%d" % k, "peer", self.hub_pub,
                                             "preshared-key", key_file(s["psk"])])
            self.hub_psk(s)
        self.check(s)

    def state(self):
        return {"hub_peers": {s["keys"][0]["pub"]: self.hub_peer(s) for s in self.mine.values()},
                "spokes": {"ws%d" % s["k"]: self.spoke_dev(s) for s in self.mine.values()}}


class Fakes(Churn):
    """Peers that never answer."""

    def setup(self):
        self.pool = self.cfg["fakes"]
        self.model = {}

    def fake(self, i):
        endpoint = self.rng.choice(["127.0.0.1:%d", "[::1]:%d"]) % (PORT_FAKE + i)
        return peer_model(self.rng.choice([None, new_psk()]), endpoint, fake_allowed(i),
                          self.rng.choice([0, 0, 0, 1, 20]))

    def args(self, pub, m):
        argv = ["peer", pub, "endpoint", m["endpoint"], "allowed-ips", ",".join(m["allowed"]),
                "persistent-keepalive", m["keepalive"]]
        if m["psk"] != "(none)":
            argv += ["preshared-key", key_file(m["psk"])]
        return argv

    def step(self):
        absent = [i for i, pub in enumerate(self.pool) if pub not in self.model]
        present = [i for i, pub in enumerate(self.pool) if pub in self.model]
        r = self.rng.random()
        if absent and (r < 0.35 or not present):
            argv = [self.tool(), "set", "wg0"]
            for i in self.rng.sample(absent, min(len(absent), self.rng.randrange(1, 9))):
                self.model[self.pool[i]] = self.fake(i)
                argv += self.args(self.pool[i], self.model[self.pool[i]])
            self.op("add", argv)
        elif r < 0.7:
            argv = [self.tool(), "set", "wg0"]
            for i in self.rng.sample(present, min(len(present), self.rng.randrange(1, 9))):
                del self.model[self.pool[i]]
                argv += ["peer", self.pool[i], "remove"]
            # One the device never had.
            argv += ["peer", b64(os.urandom(32)), "remove"]
            self.op("remove", argv)
        elif r < 0.85 and absent:
            with open(path("conf", "fakes.conf"), "w") as f:
                for i in self.rng.sample(absent, min(len(absent), self.rng.randrange(1, 5))):
                    m = self.model[self.pool[i]] = self.fake(i)
                    f.write("[Peer]\nPublicKey = %s\nAllowedIPs = %s\nEndpoint = %s\n" %
                            (self.pool[i], ", ".join(m["allowed"]), m["endpoint"]))
                    if m["psk"] != "(none)":
                        f.write("PresharedKey = %s\n" % m["psk"])
                    if m["keepalive"] != "off":
                        f.write("PersistentKeepalive = %s\n" % m["keepalive"])
                    f.write("\n")
            self.op("our addconf", [self.cfg["wg"], "addconf", "wg0", path("conf", "fakes.conf")])
        else:
            i = self.rng.choice(present)
            old, new = self.model[self.pool[i]], self.fake(i)
            if new["psk"] == "(none)" and old["psk"] != "(none)":
                new["psk"] = old["psk"]       # only /dev/null would clear it
            self.model[self.pool[i]] = new
            self.op("change", [self.tool(), "set", "wg0"] + self.args(self.pool[i], new))
        self.check()

    def check(self):
        dev = self.dump("wg0")
        if dev is None:
            return
        got = {pub: m for pub, m in dev["peers"].items() if pub in self.pool}
        self.expect(diff_dev("wg0 (fakes)", {"peers": self.model}, {"peers": got}))

    def state(self):
        return {"hub_peers": self.model}


def merged(which):
    hub = {"peers": {}}
    spokes = {}
    for name in ("device", "rotate", "allowedips", "stable", "fakes"):
        st = load("state-%s.json" % name)
        hub.update(st.get("hub", {}))
        for pub, fields in st.get("hub_peers", {}).items():
            hub["peers"].setdefault(pub, {}).update(fields)
        spokes.update(st.get("spokes", {}))
    return {"wg0": hub} if which == "hub" else spokes


def compare(which, dump_file, iface=None):
    with open(dump_file) as f:
        got = parse_dump(f.read(), iface)
    want = merged(which)
    out = []
    for name in sorted(set(want) | set(got)):
        if name not in got:
            out.append("%s missing" % name)
        elif name not in want:
            out.append("unexpected device %s" % name)
        else:
            out += diff_dev(name, want[name], got[name])
    for line in out[:40]:
        print(line)
    npeers = sum(len(d["peers"]) for d in want.values())
    print("compared %d devices, %d peers: %d differences" % (len(want), npeers, len(out)))
    return 1 if out else 0


def summary():
    """Counts of what the churn did, for the log."""
    for name in ("device", "rotate", "allowedips", "stable", "fakes"):
        rep = load("report-%s.json" % name)
        print("%-10s %4d commands, %4d read-backs, %d failed: %s" % (
            name, rep["ops"], rep["reads"], rep["nfail"],
            ", ".join("%s %d" % kv for kv in sorted(rep["counts"].items()))))
    rot = load("state-rotate.json")["rotations"]
    print("key rotations per rotating spoke: %s" % " ".join("%s:%d" % kv for kv in sorted(rot.items(), key=lambda kv: int(kv[0]))))


def report(name):
    rep = load("report-%s.json" % name)
    print("%d commands, %d read-backs" % (rep["ops"], rep["reads"]))
    for f in rep["failures"]:
        print(f)
    return 1 if rep["nfail"] or not rep["ops"] else 0


def traffic(before, after, side, need):
    """Peers that carried traffic between two snapshots of a receiver."""
    a, b = load(before)["per"], load(after)["per"]
    ks = [str(s["k"]) for s in load("cfg.json")["spokes"]]
    moved = [k for k in ks if b.get(k, 0) > a.get(k, 0)]
    print("%d of %d spokes, %d packets" % (len(moved), len(ks), sum(b.get(k, 0) - a.get(k, 0) for k in ks)))
    return 0 if len(moved) >= need else 1


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "plan":
        plan(int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6],
             {"outer": sys.argv[7], "hub": sys.argv[8], "spokes": sys.argv[9]})
    elif mode == "send":
        traffic_send(sys.argv[3], float(sys.argv[4]))
    elif mode == "recv":
        traffic_recv(sys.argv[3])
    elif mode == "churn":
        {"device": Device, "rotate": Rotate, "allowedips": AllowedIPs,
         "stable": Stable, "fakes": Fakes}[sys.argv[3]](sys.argv[3]).main()
    elif mode == "compare":
        sys.exit(compare(sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None))
    elif mode == "summary":
        summary()
    elif mode == "report":
        sys.exit(report(sys.argv[3]))
    elif mode == "traffic":
        sys.exit(traffic(sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])))
    else:
        sys.exit("unknown mode " + mode)
EOF
helper() { $PY "$tmp/stress.py" "$1" "$tmp" "${@:2}"; }

# --- setup -------------------------------------------------------------------------
check "our module loads" load_wireguard
echo "wireguard stress.sh: start $$" >/dev/kmsg
netns_setup
ip netns add "$netns3" && ip3 link set lo up
# (The VM's init holds the static keys that ping and UDP sockets would flip:
# see pin_static_keys in qemu/guest-init.sh.)
nspokes=$STRESS_SPOKES
check "keys and configurations for the hub, $nspokes spokes and $STRESS_FAKES fake peers" \
	helper plan "$nspokes" "$STRESS_FAKES" "$WG_REF" "$WG" "$netns0" "$netns1" "$netns2"
check "the hub and $nspokes spokes are created in $netns0 and moved out" \
	ip -n "$netns0" -batch "$tmp/create.batch"
check "the hub gets $nspokes peers (Debian's wg setconf)" \
	n1 "$WG_REF" setconf wg0 "$tmp/conf/hub.conf"
check "each spoke gets the hub as its peer (our wg setconf and Debian's, in turn)" \
	n2 sh -c "for k in \$(seq 1 $nspokes); do
		if [ \$((k % 2)) = 0 ]; then w=$WG; else w=$WG_REF; fi
		\$w setconf ws\$k $tmp/conf/ws\$k.conf || exit 1
	done"
check "addresses and routes" sh -c "
	ip -n $netns1 -batch $tmp/hub-up.batch && ip -n $netns1 -batch $tmp/anyip.batch &&
	ip -n $netns3 -batch $tmp/anyip.batch && ip -n $netns2 -batch $tmp/spokes-up.batch"
check "the tunnel works through the first and the last spoke" \
	sh -c "ip netns exec $netns2 ping -c 1 -w 10 10.6.1.1 && ip netns exec $netns2 ping -c 1 -w 10 10.6.$nspokes.1"

# --- traffic and churn --------------------------------------------------------------
bg_start recv-hub "$netns1" $PY "$tmp/stress.py" recv "$tmp" hub
bg_start recv-spokes "$netns2" $PY "$tmp/stress.py" recv "$tmp" spokes
bg_start send-hub "$netns1" $PY "$tmp/stress.py" send "$tmp" hub "$STRESS_RATE"
bg_start send-spokes "$netns2" $PY "$tmp/stress.py" send "$tmp" spokes "$STRESS_RATE"
bg_start iperf3-server "$netns1" iperf3 -s -p 5201
sleep 1
bg_start iperf3-client "$netns2" iperf3 -c 10.6.1.1 -p 5201 --bidir -b 20M \
	-t "$STRESS_SECONDS" --connect-timeout 5000
# The receivers write their first counts once they listen; under TCG the
# interpreters' start-up alone can take seconds.
for f in recv-hub recv-spokes send-hub send-spokes; do
	for ((i = 0; i < 300; i++)); do
		[ -e "$tmp/traffic-$f.json" ] && break
		sleep 0.1
	done
	[ -e "$tmp/traffic-$f.json" ] || diag "traffic $f did not start within 30s: $(cat "$tmp/$f.out")"
done
sleep 2
cp "$tmp/traffic-recv-hub.json" "$tmp/recv-hub-0.json"
cp "$tmp/traffic-recv-spokes.json" "$tmp/recv-spokes-0.json"

loops="device rotate allowedips stable fakes"
declare -A home=([device]=$netns1 [rotate]=$netns1 [allowedips]=$netns1 [stable]=$netns2 [fakes]=$netns1)
for l in $loops; do
	bg_start "churn-$l" "${home[$l]}" $PY "$tmp/stress.py" churn "$tmp" "$l"
done
# STRESS_SECONDS of churn from the moment every loop has made its first
# change: on a slow kernel (the debug lane's) the loops take long to start,
# and a fixed sleep from here once ended before some had done anything.
for l in $loops; do
	for _ in $(seq 1 600); do
		[ -e "$tmp/churned-$l" ] && break
		sleep 1
	done
done
diag "setup took ${SECONDS}s; churning for ${STRESS_SECONDS}s: $nspokes spokes, up to $STRESS_FAKES fake peers, $STRESS_RATE packets/s each way"
churn_start=$SECONDS
sleep "$STRESS_SECONDS"
touch "$tmp/churn-stop"
for l in $loops; do
	bg_wait "churn-$l" "$tmp/report-$l.json" 120
done
cp "$tmp/traffic-recv-hub.json" "$tmp/recv-hub-1.json"
cp "$tmp/traffic-recv-spokes.json" "$tmp/recv-spokes-1.json"

diag "the churn has stopped after $((SECONDS - churn_start))s"

# --- what the churn left ------------------------------------------------------------------
for l in $loops; do
	check "churn $l: every command succeeded, every read-back matched" helper report "$l"
done
diag "$(helper summary 2>&1)"
check "during the churn the hub received from at least half of the spokes" \
	helper traffic recv-hub-0.json recv-hub-1.json hub $((nspokes / 2))
diag "hub received from $(helper traffic recv-hub-0.json recv-hub-1.json hub 0)"
check "during the churn at least half of the spokes received from the hub" \
	helper traffic recv-spokes-0.json recv-spokes-1.json spokes $((nspokes / 2))
diag "spokes received $(helper traffic recv-spokes-0.json recv-spokes-1.json spokes 0)"

n1 "$WG_REF" show wg0 dump >"$tmp/hub.dump"
check "the hub's configuration is exactly the final one (Debian's wg show dump)" \
	helper compare hub "$tmp/hub.dump" wg0
n1 "$WG" show wg0 dump >"$tmp/hub-ours.dump"
check "and our wg shows the same" helper compare hub "$tmp/hub-ours.dump" wg0
n2 "$WG_REF" show all dump >"$tmp/spokes.dump"
check "every spoke's configuration is exactly the final one" \
	helper compare spokes "$tmp/spokes.dump"

# A fresh ping through every spoke at once; the ones whose session the churn
# ended need a handshake first, and a handshake may have to wait its turn.
check "a fresh ping to the hub through each of the $nspokes spokes" \
	n2 bash -c "for k in \$(seq 1 $nspokes); do ping -c 1 -w 20 10.6.\$k.1 >/dev/null & done
		    fail=0; for j in \$(jobs -p); do wait \$j || fail=1; done; exit \$fail"
check "a fresh ping over IPv6 through spoke 1" n2 ping -c 1 -w 20 fd06::1:1
check "a fresh ping from the hub to the last spoke" n1 ping -c 1 -w 20 -I 10.6.$nspokes.1 10.7.$nspokes.2

diag "at ${SECONDS}s: moving the hub"

# --- moving the hub under traffic --------------------------------------------------------
for i in $(seq 1 "$STRESS_MOVES"); do
	check "move the hub to $netns3 under traffic ($i)" ip1 link set wg0 netns "$netns3"
	n3 "$WG_REF" show wg0 dump >"$tmp/hub.dump"
	check "its configuration moved with it" helper compare hub "$tmp/hub.dump" wg0
	check "it comes up there" ip -n "$netns3" -batch "$tmp/hub-up.batch"
	[ "$i" = 1 ] && check "and reaches spoke 1 from there" n3 ping -c 1 -w 20 -I 10.6.1.1 10.7.1.2
	check "move it back to $netns1 ($i)" ip3 link set wg0 netns "$netns1"
	check "it comes up again" ip -n "$netns1" -batch "$tmp/hub-up.batch"
done
check "the hub reaches the last spoke again" n1 ping -c 1 -w 20 -I 10.6.$nspokes.1 10.7.$nspokes.2

# --- deleting everything under traffic ------------------------------------------------------
final_port=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["hub"]["final_port"])' "$tmp/cfg.json")
udp_on_final_port() { ip netns exec "$netns0" ss -Hua "sport = :$final_port"; }
check "the hub listens on its final port $final_port in $netns0" test -n "$(udp_on_final_port)"
check "delete the hub under traffic" ip1 link del wg0
check "its socket is closed" test -z "$(udp_on_final_port)"
check "delete half of the spokes under traffic" ip -n "$netns2" -batch "$tmp/spokes-del.batch"

touch "$tmp/traffic-stop"
for t in send-hub send-spokes recv-hub recv-spokes; do
	bg_wait "$t" "$tmp/traffic-$t.done" 10
done
bg_kill_all
diag "iperf3: $(grep -E 'sender|receiver' "$tmp/iperf3-client.out" | tr -s ' ' | tr '\n' ';')"
diag "$($PY -c '
import json, sys
for src, dst in (("hub", "spokes"), ("spokes", "hub")):
    s = json.load(open(sys.argv[1] + "/traffic-send-" + src + ".json"))
    r = json.load(open(sys.argv[1] + "/traffic-recv-" + dst + ".json"))
    print("%s to %s: %d datagrams sent (send errors: %s), %d arrived" %
          (src, dst, s["sent"], dict(s["errors"]) or "none", r["total"]))' "$tmp")"

ip netns del "$netns0"
check "deleting $netns0, where they were created, deletes the other spokes" \
	sh -c "for i in \$(seq 1 300); do
		[ -z \"\$(ip -n $netns2 link show type wireguard)\" ] && exit 0; sleep 0.1; done; exit 1"
netns_cleanup
ip netns del "$netns3"

# --- configuration racing deletion ----------------------------------------------------------
# A SET_DEVICE that found the device before `ip link del` took rtnl must
# not touch what the deletion freed: it must fail with ENODEV, or apply
# before the deletion.  Each round queues a large setconf, then a `wg set`
# and the deletion behind it, so that the two race for rtnl.
race_rounds()
{
	local ns=$1 rounds=$2 i key
	key=$("$WG_REF" genkey | "$WG_REF" pubkey)
	{
		printf '[Interface]\nListenPort = 0\n[Peer]\nPublicKey = %s\nAllowedIPs = ' "$key"
		for i in $(seq 0 999); do printf '10.%d.%d.0/24,' $((i / 250)) $((i % 250)); done
		printf '10.99.0.0/16\n'
	} >"$tmp/race.conf"
	for i in $(seq 1 "$rounds"); do
		ip -n "$ns" link add wgr type wireguard || return 1
		ip netns exec "$ns" "$WG_REF" setconf wgr "$tmp/race.conf" 2>/dev/null &
		ip netns exec "$ns" "$WG_REF" set wgr peer "$key" allowed-ips +10.98.$((i % 250)).0/24 2>/dev/null &
		ip -n "$ns" link del wgr || return 1
		wait
	done
	# The module still works afterwards.
	ip -n "$ns" link add wgr type wireguard &&
		ip netns exec "$ns" "$WG_REF" setconf wgr "$tmp/race.conf" &&
		ip -n "$ns" link del wgr
}
netns_race="wg-test-$$-race"
ip netns add "$netns_race"
check "wg setconf and wg set racing ip link del, ${STRESS_RACE_ROUNDS:=60} rounds" \
	race_rounds "$netns_race" "$STRESS_RACE_ROUNDS"
ip netns del "$netns_race"

diag "at ${SECONDS}s: everything deleted"

# --- nothing left --------------------------------------------------------------------------
# A peer, node or device someone forgot to release is still allocated here.
# Caches merged with others cannot be counted on their own.
slab_empty()
{
	local c=/sys/kernel/slab/$1 i n
	for i in $(seq 1 100); do
		echo 1 >"$c/shrink" 2>/dev/null
		n=$(cut -d' ' -f1 "$c/objects")
		[ "$n" = 0 ] && return 0
		sleep 0.2
	done
	echo "$n objects left in $1"
	return 1
}
for cache in wg_peer wg_allowedips_node4 wg_allowedips_node6; do
	if [ ! -e "/sys/kernel/slab/$cache/objects" ]; then
		skip "no $cache object left" "no /sys/kernel/slab/$cache"
	elif [ "$(cat "/sys/kernel/slab/$cache/aliases")" != 0 ]; then
		skip "no $cache object left" "the cache is merged with others"
	else
		check "no $cache object left" slab_empty "$cache"
	fi
done
check "the module unloads" sh -c 'for i in $(seq 1 50); do rmmod wireguard 2>/dev/null && exit 0; sleep 0.2; done; rmmod wireguard'
check "and is gone" sh -c '! test -d /sys/module/wireguard'
check "the kernel logged no problem" sh -c "! dmesg | sed -n '/wireguard stress.sh: start $$\$/,\$p' |
	grep -E 'WARNING:|BUG[: ]|Oops|general protection|refcount_t:|still has objects|Objects remaining|to become free|KASAN|UBSAN|circular locking|recursive locking|suspicious RCU|self-detected stall|rcu: INFO|blocked for more than|list_(add|del) corruption|ODEBUG'"
tap_plan_end
