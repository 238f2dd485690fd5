#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# The packet side of fuzz-packets.sh: a steady stream through the tunnel and
# its receiver, a sniffer that counts what the legitimate peer really sent,
# and the fuzzer, which throws hostile datagrams at a device's UDP port.
#
# The primitives come from python3-cryptography and hashlib; here is only
# the Noise_IKpsk2 initiator of the whitepaper (section 5.4) built on them.  The fuzzer
# proves that its own handshakes and transport packets are right by running
# them as a configured peer, "K3", first: so when the same constructions with
# an unknown key are refused, the refusal is the device's doing.
#
#   fuzz-packets.py stream-recv|stream-send|sniff|fuzz|analyze ...
#
# The fuzzer prints one line per test, "ok<TAB>what" or "not ok<TAB>what",
# and "#" lines of detail; fuzz-packets.sh turns them into TAP.

import collections
import ctypes
import errno
import hashlib
import hmac
import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time

# --- primitives ----------------------------------------------------------------
#
# None of our own: X25519 and ChaCha20-Poly1305 come from python3-cryptography
# (OpenSSL underneath), BLAKE2s from hashlib.  XChaCha20-Poly1305, which only
# cookie replies use, is HChaCha20 then ChaCha20-Poly1305; HChaCha20 is read
# off one ChaCha20 keystream block, whose words are the rounds' output plus
# the input state.

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

M32 = 0xffffffff
SIGMA = struct.unpack("<4I", b"expand 32-byte k")


def x25519(private, public):
    theirs = X25519PublicKey.from_public_bytes(public)
    return X25519PrivateKey.from_private_bytes(private).exchange(theirs)


def x25519_public(private):
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def hchacha20(key, nonce16):
    block = Cipher(algorithms.ChaCha20(key, nonce16), mode=None).encryptor().update(bytes(64))
    words = struct.unpack("<16I", block)
    state = SIGMA + struct.unpack("<8I", key) + struct.unpack("<4I", nonce16)
    x = [(words[i] - state[i]) & M32 for i in range(16)]
    return struct.pack("<8I", *(x[0:4] + x[12:16]))


def pad16(n):
    return b"\0" * (-n % 16)


def wg_nonce(counter):
    return bytes(4) + struct.pack("<Q", counter)


def seal(key, counter, plain, aad=b""):
    """ChaCha20-Poly1305 as WireGuard uses it: a 64-bit counter as nonce."""
    return ChaCha20Poly1305(key).encrypt(wg_nonce(counter), plain, aad)


def unseal(key, counter, sealed, aad=b""):
    if len(sealed) < 16:
        return None
    try:
        return ChaCha20Poly1305(key).decrypt(wg_nonce(counter), sealed, aad)
    except InvalidTag:
        return None


def xunseal(key, nonce24, sealed, aad):
    sub = hchacha20(key, nonce24[:16])
    try:
        return ChaCha20Poly1305(sub).decrypt(bytes(4) + nonce24[16:], sealed, aad)
    except InvalidTag:
        return None


def blake(data, key=b"", size=32):
    return hashlib.blake2s(data, key=key, digest_size=size).digest()


def hmac_blake(key, data):
    return hmac.new(key, data, hashlib.blake2s).digest()


def kdf(key, data, n):
    prk = hmac_blake(key, data)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac_blake(prk, prev + bytes([i]))
        out.append(prev)
    return out


def self_check():
    """Known answers (RFC 7748 5.2, the XChaCha20 draft's HChaCha20 vector)."""
    got = x25519(bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                 bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))
    assert got.hex() == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    got = hchacha20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927"))
    assert got.hex() == "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"
    key = bytes(range(1, 33))
    assert unseal(key, 7, seal(key, 7, b"x" * 70, b"ad"), b"ad") == b"x" * 70
    assert unseal(key, 8, seal(key, 7, b"x" * 70)) is None


# --- the protocol ------------------------------------------------------------------

INITIATION, RESPONSE, COOKIE, DATA = 1, 2, 3, 4
INITIATION_LEN, RESPONSE_LEN, COOKIE_LEN, DATA_MIN = 148, 92, 64, 32
CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
CK0 = blake(CONSTRUCTION)
H0 = blake(CK0 + IDENTIFIER)
WINDOW = 8192 - 64
REJECT_AFTER_MESSAGES = (1 << 64) - 1 - WINDOW - 1


def mac1_key(public):
    return blake(b"mac1----" + public)


def cookie_key(public):
    return blake(b"cookie--" + public)


def mac1_of(msg, public):
    return blake(msg[:-32], mac1_key(public), 16)


def with_macs(body, public, cookie=None):
    """body is the message without its 32 bytes of MACs."""
    mac1 = blake(body, mac1_key(public), 16)
    mac2 = blake(body + mac1, cookie, 16) if cookie else bytes(16)
    return body + mac1 + mac2


def has_valid_mac1(msg, public):
    return hmac.compare_digest(mac1_of(msg, public), msg[-32:-16])


def tai64n():
    now = time.time()
    sec = int(now)
    return struct.pack(">QI", (1 << 62) + 10 + sec, int((now - sec) * 1e9))


class Initiator:
    """The initiator's half of a handshake with a responder whose key we know."""

    def __init__(self, private, responder_public, psk=bytes(32)):
        self.private = private
        self.public = x25519_public(private)
        self.responder = responder_public
        self.psk = psk
        # An all-zero DH result would be refused by the device: fine, it is
        # what "a key whose DH we cannot do" looks like.
        self.static_static = x25519(private, responder_public)

    def initiation(self, sender_index, cookie=None, static_static=None):
        ck, h = CK0, blake(H0 + self.responder)
        eph = os.urandom(32)
        eph_pub = x25519_public(eph)
        ck = kdf(ck, eph_pub, 1)[0]
        h = blake(h + eph_pub)
        ck, key = kdf(ck, x25519(eph, self.responder), 2)
        enc_static = seal(key, 0, self.public, h)
        h = blake(h + enc_static)
        ss = self.static_static if static_static is None else static_static
        ck, key = kdf(ck, ss, 2)
        enc_time = seal(key, 0, tai64n(), h)
        h = blake(h + enc_time)
        body = struct.pack("<II", INITIATION, sender_index) + eph_pub + enc_static + enc_time
        msg = with_macs(body, self.responder, cookie)
        self.pending = (sender_index, eph, ck, h, msg)
        return msg

    def consume_response(self, msg):
        """The session (send key, receive key, their index), or None."""
        if len(msg) != RESPONSE_LEN or msg[0] != RESPONSE:
            return None
        sender, receiver = struct.unpack_from("<II", msg, 4)
        index, eph, ck, h, _ = self.pending
        if receiver != index:
            return None
        their_eph = msg[12:44]
        ck = kdf(ck, their_eph, 1)[0]
        h = blake(h + their_eph)
        ck = kdf(ck, x25519(eph, their_eph), 1)[0]
        ck = kdf(ck, x25519(self.private, their_eph), 1)[0]
        ck, tau, key = kdf(ck, self.psk, 3)
        h = blake(h + tau)
        if unseal(key, 0, msg[44:60], h) is None:
            return None
        send, recv = kdf(ck, b"", 2)
        return send, recv, sender


def transport(key, receiver_index, counter, plain, pad=True):
    if pad:
        plain = plain + pad16(len(plain))
    return struct.pack("<IIQ", DATA, receiver_index, counter) + seal(key, counter, plain)


def open_cookie_reply(msg, responder_public, mac1):
    if len(msg) != COOKIE_LEN or msg[0] != COOKIE:
        return None
    return xunseal(cookie_key(responder_public), msg[8:32], msg[32:64], mac1)


def ip_checksum(data):
    data += b"\0" * (len(data) & 1)
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(src, dst, proto, payload, ident=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64,
                      proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", ip_checksum(hdr)) + hdr[12:]
    return hdr + payload


def echo_request(src, dst, ident, seq, data):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    icmp = icmp[:2] + struct.pack("!H", ip_checksum(icmp)) + icmp[4:]
    return ipv4(src, dst, 1, icmp, ident=seq)


def ipv6(src, dst, nexthdr, payload, plen=None):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload) if plen is None else plen,
                       nexthdr, 64, socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


# --- plumbing ------------------------------------------------------------------------

SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26
UDP_SEGMENT = 103
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_OUTGOING = 4
CLONE_NEWNET = 0x40000000


def enter_netns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + name)
    os.close(fd)


def deep_buffer(sock, size=16 << 20):
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def attach_filter(sock, program):
    """Classic BPF: (code, jt, jf, k) tuples."""
    blob = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(blob, len(blob))
    fprog = struct.pack("HxxxxxxQ", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_Iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


class Burst:
    """Datagrams sent with sendmmsg(2) on a connected socket: a thousand in
    one system call, where a Python loop of sendto() sends a few hundred
    a second on an emulated CPU."""

    libc = ctypes.CDLL(None, use_errno=True)

    def __init__(self, msgs):
        self.n = len(msgs)
        self.bufs = [ctypes.create_string_buffer(m, len(m)) for m in msgs]
        self.iovs = (_Iovec * self.n)()
        self.hdrs = (_Mmsghdr * self.n)()
        for i, buf in enumerate(self.bufs):
            self.iovs[i].base = ctypes.addressof(buf)
            self.iovs[i].len = len(msgs[i])
            self.hdrs[i].hdr.iov = ctypes.pointer(self.iovs[i])
            self.hdrs[i].hdr.iovlen = 1

    def send(self, sock, first=0, end=None):
        """How many of [first, end) went out; a full socket buffer ends the
        burst early."""
        end = self.n if end is None else end
        done = first
        while done < end:
            ret = self.libc.sendmmsg(sock.fileno(),
                                     ctypes.byref(self.hdrs, done * ctypes.sizeof(_Mmsghdr)),
                                     end - done, 0)
            if ret < 0:
                err = ctypes.get_errno()
                if err in (errno.EAGAIN, errno.ENOBUFS, errno.EINTR):
                    break
                raise OSError(err, os.strerror(err))
            done += ret
        return done - first


def legit_sniffer(sport, dport):
    """AF_PACKET on lo: IPv4/UDP from sport to dport, received copies only."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    deep_buffer(s)
    # Jump offsets count from the next instruction; 10 rejects, 11 accepts.
    program = [
        (0x20, 0, 0, 0xfffff004),   # 0: A = pkttype
        (0x15, 8, 0, PACKET_OUTGOING),
        (0x30, 0, 0, 0),            # 2: A = first byte: IPv4 without options
        (0x15, 0, 6, 0x45),
        (0x30, 0, 0, 9),            # 4: A = protocol
        (0x15, 0, 4, 17),
        (0x28, 0, 0, 20),           # 6: A = source port
        (0x15, 0, 2, sport),
        (0x28, 0, 0, 22),           # 8: A = destination port
        (0x15, 1, 0, dport),
        (0x06, 0, 0, 0),            # 10
        (0x06, 0, 0, 0xffff),       # 11
    ]
    attach_filter(s, program)
    s.bind(("lo", 0x0800))
    # Whatever arrived before the filter was attached is not ours to judge.
    s.setblocking(False)
    try:
        while True:
            s.recv(65535)
    except BlockingIOError:
        pass
    s.setblocking(True)
    return s


def softnet_drops():
    """Packets the stack's per-CPU backlogs dropped, all CPUs together."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f)


def capture_drops(sock):
    _, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    return drops


def udp_payload(pkt):
    ihl = (pkt[0] & 15) * 4
    return pkt[ihl + 8:]


# --- the stream ------------------------------------------------------------------------

STREAM_PORT = 9999


def stream_tag(key, seq):
    return blake(struct.pack("<Q", seq), key, 16)


def cmd_stream_send(args):
    """stream-send DST RATE KEYHEX STOPFILE OUT: until STOPFILE exists."""
    dst, rate, key, stop, out = args[0], float(args[1]), bytes.fromhex(args[2]), args[3], args[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    log, errors = [], collections.Counter()
    start = time.monotonic()
    seq = 0
    while not os.path.exists(stop):
        now = time.monotonic()
        try:
            s.sendto(struct.pack("<Q", seq) + stream_tag(key, seq) + b"s" * 40, (dst, STREAM_PORT))
            log.append((seq, now))
        except OSError as e:
            errors[errno.errorcode.get(e.errno, str(e.errno))] += 1
        seq += 1
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    with open(out, "w") as f:
        json.dump({"sent": log, "errors": dict(errors)}, f)


def cmd_stream_recv(args):
    """stream-recv KEYHEX DEV READY STOP OUT: the stream, and every inner packet on DEV."""
    key, dev, ready, stop, out = bytes.fromhex(args[0]), args[1], args[2], args[3], args[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deep_buffer(s)
    s.bind(("0.0.0.0", STREAM_PORT))
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))
    deep_buffer(raw)
    raw.bind((dev, 3))
    got = collections.defaultdict(list)
    foreign, inner, odd = [], collections.Counter(), []
    open(ready, "w").write("ready\n")
    quiet_since = time.monotonic()
    while True:
        r, _, _ = select.select([s, raw], [], [], 0.2)
        now = time.monotonic()
        if not r:
            if os.path.exists(stop) and now - quiet_since > 1:
                break
            continue
        quiet_since = now
        if s in r:
            data = s.recv(4096)
            seq = struct.unpack_from("<Q", data)[0] if len(data) >= 8 else -1
            if len(data) == 64 and data[8:24] == stream_tag(key, seq):
                got[seq].append(now)
            else:
                foreign.append(data[:64].hex())
        if raw in r:
            pkt, addr = raw.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            kind = classify_inner(pkt)
            inner[kind] += 1
            if kind == "other" and len(odd) < 5:
                odd.append(pkt[:48].hex())
    with open(out, "w") as f:
        json.dump({"got": got, "foreign": foreign, "inner": inner, "odd": odd,
                   "raw_drops": capture_drops(raw)}, f)


def classify_inner(pkt):
    """What a packet the device delivered can legitimately be."""
    if len(pkt) >= 20 and pkt[0] >> 4 == 4:
        src = socket.inet_ntoa(pkt[12:16])
        proto = pkt[9]
        ihl = (pkt[0] & 15) * 4
        if src == "192.168.241.1" and proto == 17 and \
                struct.unpack_from("!H", pkt, ihl + 2)[0] == STREAM_PORT:
            return "stream"
        if src == "192.168.241.1" and proto == 1:
            return "ping"
        if src == "192.168.241.3" and proto == 1 and pkt[ihl] == 8 and \
                struct.unpack_from("!H", pkt, ihl + 4)[0] == K3_ICMP_ID:
            return "k3"
    return "other"


def cmd_sniff(args):
    """sniff SPORT DPORT READY STOP OUT: what the legitimate peer sent, by type."""
    sport, dport, ready, stop, out = int(args[0]), int(args[1]), args[2], args[3], args[4]
    s = legit_sniffer(sport, dport)
    open(ready, "w").write("ready\n")
    s.settimeout(0.2)
    count, size = collections.Counter(), collections.Counter()
    while not os.path.exists(stop):
        try:
            payload = udp_payload(s.recv(65535))
        except socket.timeout:
            continue
        t = payload[0] if payload else 0
        count[t] += 1
        size[t] += len(payload)
    with open(out, "w") as f:
        json.dump({"count": count, "bytes": size, "drops": capture_drops(s)}, f)


# --- the fuzzer ------------------------------------------------------------------------

K3_ICMP_ID = 0x4b33
STATS = ("rx_errors", "rx_dropped", "rx_length_errors", "rx_frame_errors", "rx_packets")


class Device:
    """A device's counters, from sysfs files opened in its namespace."""

    def __init__(self, name):
        self.files = {k: open("/sys/class/net/%s/statistics/%s" % (name, k), "rb", buffering=0)
                      for k in STATS}

    def read(self):
        out = {}
        for k, f in self.files.items():
            f.seek(0)
            out[k] = int(f.read())
        return out


class Results:
    def __init__(self):
        self.failed = 0

    def check(self, good, what, detail=None):
        print("%s\t%s" % ("ok" if good else "not ok", what), flush=True)
        if not good:
            self.failed += 1
        if detail and not good:
            self.diag(detail)
        return good

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line, flush=True)


def expected_counts(msg, public):
    """(rx_errors, rx_dropped) the device adds for one junk datagram."""
    n = len(msg)
    if n < DATA_MIN:
        return (0, 0)       # not even a keepalive: freed before parsing
    kind = struct.unpack_from("<I", msg)[0]
    if (kind, n) in ((INITIATION, INITIATION_LEN), (RESPONSE, RESPONSE_LEN)):
        return (1, 0)       # a bad MAC, or a handshake that fails: an error
    if (kind, n) == (COOKIE, COOKIE_LEN):
        return (0, 0)       # a cookie reply nobody asked for: ignored
    if kind == DATA:
        return (0, 1)       # no session, or it does not authenticate
    return (1, 0)           # no such message


class Fuzzer:
    def __init__(self, opts, results):
        self.o = opts
        self.r = results
        self.rng = random.Random(opts["seed"])
        self.wg2 = Device(opts["dev"])
        enter_netns(opts["outer_netns"])
        self.pub = opts["public"]
        self.target4 = ("127.0.0.1", opts["port"])
        self.target6 = ("::1", opts["port"])
        self.sock4 = self.udp(socket.AF_INET, "127.0.0.2")
        self.sock6 = self.udp(socket.AF_INET6, "::1")
        self.marks = []
        self.captured = collections.deque(maxlen=4000)
        self.initiations = []
        self.capture_lock = threading.Lock()
        self.capturer = legit_sniffer(opts["legit_port"], opts["port"])
        threading.Thread(target=self.capture, daemon=True).start()
        self.sent_total = 0

    @staticmethod
    def udp(family, addr):
        s = socket.socket(family, socket.SOCK_DGRAM)
        deep_buffer(s)
        s.bind((addr, 0))
        s.setblocking(False)
        return s

    def capture(self):
        while True:
            payload = udp_payload(self.capturer.recv(65535))
            with self.capture_lock:
                if payload[:1] == bytes([DATA]):
                    self.captured.append((time.monotonic(), payload))
                elif payload[:1] == bytes([INITIATION]):
                    self.initiations.append((time.monotonic(), payload))

    def old_captures(self, age=1.0):
        """Real transport packets the device has surely seen by now."""
        limit = time.monotonic() - age
        with self.capture_lock:
            return [p for t, p in self.captured if t < limit]

    def live_indices(self):
        with self.capture_lock:
            return {struct.unpack_from("<I", p, 4)[0] for _, p in self.captured}

    def mark(self, name, start, end):
        self.marks.append((name, start, end))

    def send(self, msg, v6=None):
        if v6 is None:
            v6 = self.rng.random() < 0.25
        sock, dst = (self.sock6, self.target6) if v6 else (self.sock4, self.target4)
        for _ in range(100):
            try:
                sock.sendto(msg, dst)
                self.sent_total += 1
                return
            except BlockingIOError:
                time.sleep(0.001)
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                time.sleep(0.001)
        raise OSError("cannot send")

    def replies(self, *socks):
        got = []
        for s in socks or (self.sock4, self.sock6):
            while True:
                try:
                    got.append(s.recv(65535))
                except BlockingIOError:
                    break
        return got

    def settle(self, before, want, timeout=15.0):
        """Waits until the counters moved by at least want, then a little more."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.wg2.read()
            if all(now[k] - before[k] >= v for k, v in want.items()):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        return self.wg2.read()

    def quiesce(self, quiet=1.0, timeout=15.0):
        """Until the error counters stand still for a while: a slow kernel
        may still be counting what the previous phase sent."""
        keys = ("rx_errors", "rx_dropped", "rx_length_errors", "rx_frame_errors")
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = self.wg2.read()
            cur = tuple(now[k] for k in keys)
            if cur != last:
                last, since = cur, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)

    def junk_class(self, name, msgs, pace=1500.0):
        """Sends msgs; the device must count each exactly as the driver does."""
        want_err = sum(expected_counts(m, self.pub)[0] for m in msgs)
        want_drop = sum(expected_counts(m, self.pub)[1] for m in msgs)
        before = self.wg2.read()
        start = time.monotonic()
        for i, m in enumerate(msgs):
            self.send(m)
            delay = start + (i + 1) / pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        after = self.settle(before, {"rx_errors": want_err, "rx_dropped": want_drop})
        delta = {k: after[k] - before[k] for k in STATS}
        back = self.replies()
        detail = "sent %d; rx_errors +%d (want %d), rx_dropped +%d (want %d), " \
                 "rx_length_errors +%d, rx_frame_errors +%d, %d replies" % (
                     len(msgs), delta["rx_errors"], want_err, delta["rx_dropped"], want_drop,
                     delta["rx_length_errors"], delta["rx_frame_errors"], len(back))
        self.r.check(delta["rx_errors"] == want_err and delta["rx_dropped"] == want_drop and
                     not delta["rx_length_errors"] and not delta["rx_frame_errors"] and not back,
                     "%s: each counted as the driver counts it, none answered" % name, detail)
        self.r.diag("%s: %s" % (name, detail))
        return delta

    # The classes of junk.  Each returns the datagrams to send.

    def rand(self, n):
        return self.rng.randbytes(n)

    def bad_type(self, n):
        """Random bytes whose first word is no message type."""
        m = bytearray(self.rand(n))
        while len(m) >= 4 and struct.unpack_from("<I", m)[0] in (1, 2, 3, 4):
            m[3] = self.rng.randrange(1, 256)
        return bytes(m)

    def header(self, kind, n):
        return struct.pack("<I", kind) + self.rand(n - 4)

    def c_short(self, count):
        out = []
        for i in range(count):
            n = self.rng.randrange(0, DATA_MIN)
            m = bytearray(self.rand(n))
            if n >= 1 and i % 2:
                m[0] = self.rng.choice((1, 2, 3, 4))
                m[1:4] = bytes(min(3, n - 1))
            out.append(bytes(m))
        return out

    def c_random(self, count):
        return [self.bad_type(self.rng.randrange(DATA_MIN, 1473)) for _ in range(count)]

    def c_reserved(self, count):
        out = []
        for _ in range(count):
            kind, n = self.rng.choice(((1, INITIATION_LEN), (2, RESPONSE_LEN),
                                       (3, COOKIE_LEN), (4, self.rng.randrange(32, 200))))
            m = bytearray(self.header(kind, n))
            m[self.rng.randrange(1, 4)] = self.rng.randrange(1, 256)
            out.append(bytes(m))
        return out

    def c_wrong_length(self, count):
        out = []
        for _ in range(count):
            kind, good = self.rng.choice(((1, INITIATION_LEN), (2, RESPONSE_LEN), (3, COOKIE_LEN)))
            n = good
            while n == good or n < DATA_MIN:
                n = self.rng.choice((good - 1, good + 1, good - 16, good + 16, good * 2,
                                     self.rng.randrange(DATA_MIN, 1473)))
            m = self.header(kind, n)
            if kind != 3 and n > 32 and self.rng.random() < 0.5:
                m = with_macs(m[:-32], self.pub)    # a valid MAC does not fix the length
            out.append(m)
        return out

    def c_bad_mac1(self, count):
        out = []
        for i in range(count):
            kind, n = ((INITIATION, INITIATION_LEN), (RESPONSE, RESPONSE_LEN))[i % 2]
            m = self.header(kind, n)
            how = i // 2 % 4
            if how == 1:        # a valid mac1 for another device's key
                m = with_macs(m[:-32], self.rand(32))
            elif how >= 2:      # a valid mac1, then one bit flipped in it or before it
                m = bytearray(with_macs(m[:-32], self.pub))
                pos = n - 32 + self.rng.randrange(16) if how == 2 else self.rng.randrange(4, n - 32)
                m[pos] ^= 1 << self.rng.randrange(8)
                m = bytes(m)
            assert not has_valid_mac1(m, self.pub)
            out.append(m)
        return out

    def c_mac1_only(self, count):
        """A valid mac1 over garbage: the device pays for a DH, then refuses."""
        out = []
        for i in range(count):
            kind, n = ((INITIATION, INITIATION_LEN), (RESPONSE, RESPONSE_LEN))[i % 2]
            cookie = self.rand(16) if i % 3 == 0 else None
            out.append(with_macs(self.header(kind, n)[:-32], self.pub, cookie))
        return out

    def c_unknown_keys(self, count):
        keys = [Initiator(os.urandom(32), self.pub) for _ in range(max(1, min(4, count)))]
        return [keys[i % len(keys)].initiation(self.rng.getrandbits(32)) for i in range(count)]

    def c_impersonation(self, count):
        """Initiations that claim to be the legitimate peer, without its key."""
        fake = Initiator(os.urandom(32), self.pub)
        fake.public = self.o["legit_public"]
        return [fake.initiation(self.rng.getrandbits(32), static_static=self.rand(32))
                for _ in range(count)]

    def c_cookies(self, count):
        live = sorted(self.live_indices())
        out = []
        for i in range(count):
            m = bytearray(self.header(COOKIE, COOKIE_LEN))
            if live and i % 2:
                struct.pack_into("<I", m, 4, live[i % len(live)])
            out.append(bytes(m))
        return out

    def c_data_unknown(self, count):
        live = self.live_indices()
        out = []
        for _ in range(count):
            idx = self.rng.getrandbits(32)
            while idx in live:
                idx = self.rng.getrandbits(32)
            n = self.rng.choice((32, 48, 64, 128, self.rng.randrange(32, 1473)))
            out.append(struct.pack("<II", DATA, idx) + self.rand(n - 8))
        return out

    def c_data_forged(self, count):
        caps = self.old_captures()
        live = sorted(self.live_indices())
        top = max((struct.unpack_from("<Q", p, 8)[0] for p in caps), default=0)
        out = []
        for i in range(count):
            counter = self.rng.choice((
                top + self.rng.randrange(1, 64), top + self.rng.randrange(64, WINDOW),
                top + self.rng.randrange(WINDOW, 1 << 20), self.rng.getrandbits(64),
                (1 << 64) - 1, REJECT_AFTER_MESSAGES, REJECT_AFTER_MESSAGES - 1, 0))
            n = self.rng.choice((32, 48, 96, 112, self.rng.randrange(32, 1473)))
            if caps and i % 3 == 0:
                # A real packet's body under another counter.
                body = self.rng.choice(caps)[16:]
            else:
                body = self.rand(n - 16)
            out.append(struct.pack("<IIQ", DATA, live[i % len(live)], counter) + body)
        return out

    def c_replays(self, count):
        caps = self.old_captures()
        return [self.rng.choice(caps) for _ in range(count)]

    def c_mutations(self, count):
        caps = self.old_captures()
        with self.capture_lock:
            inits = [p for t, p in self.initiations if t < time.monotonic() - 2]
        out = []
        for i in range(count):
            m = bytearray(self.rng.choice(inits) if inits and i % 10 == 0 else self.rng.choice(caps))
            how = self.rng.randrange(4)
            if how == 0:            # a few bits anywhere
                for _ in range(self.rng.randrange(1, 4)):
                    m[self.rng.randrange(len(m))] ^= 1 << self.rng.randrange(8)
            elif how == 1:          # in the header: type, index, counter
                m[self.rng.randrange(16)] ^= 1 << self.rng.randrange(8)
            elif how == 2:          # cut short
                m = m[:self.rng.randrange(max(1, len(m) - 17), len(m))]
                if self.rng.random() < 0.2:
                    m = m[:self.rng.randrange(0, len(m))]
            else:                   # extended
                m += self.rand(self.rng.randrange(1, 65))
            out.append(bytes(m))
        return out

    def c_large(self, count):
        live = sorted(self.live_indices())
        out = []
        for i in range(count):
            n = self.rng.choice((1500, 4000, 9000, 16384 + 17, 65000))
            if i % 2:
                out.append(struct.pack("<IIQ", DATA, self.rng.choice(live),
                                       self.rng.getrandbits(64)) + self.rand(n - 16))
            else:
                out.append(self.bad_type(n))
        return out

    def gso(self, count):
        """Batches sent as one UDP GSO buffer, split into messages on receipt."""
        live = sorted(self.live_indices())
        before = self.wg2.read()
        want = [0, 0]
        sent = 0
        for i in range(count):
            size = self.rng.choice((INITIATION_LEN, RESPONSE_LEN, 32, 64, 100))
            segs = []
            for _ in range(self.rng.randrange(2, 9)):
                if size == INITIATION_LEN:
                    m = self.header(INITIATION, size)
                elif size == RESPONSE_LEN:
                    m = with_macs(self.header(RESPONSE, size)[:-32], self.pub)
                else:
                    m = struct.pack("<IIQ", DATA, self.rng.choice(live),
                                    self.rng.getrandbits(64)) + self.rand(size - 16)
                segs.append(m)
            if self.rng.random() < 0.5:
                segs[-1] = segs[-1][:self.rng.randrange(1, size)]    # a short last one
            try:
                self.sock4.sendmsg([b"".join(segs)],
                                   [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("H", size))],
                                   0, self.target4)
            except OSError as e:
                self.r.diag("UDP GSO unavailable: %s" % e)
                return None
            sent += len(segs)
            for m in segs:
                e, d = expected_counts(m, self.pub)
                want[0] += e
                want[1] += d
        after = self.settle(before, {"rx_errors": want[0], "rx_dropped": want[1]})
        delta = {k: after[k] - before[k] for k in STATS}
        detail = "%d messages in %d GSO sends; rx_errors +%d (want %d), rx_dropped +%d (want %d)" % (
            sent, count, delta["rx_errors"], want[0], delta["rx_dropped"], want[1])
        self.r.check(delta["rx_errors"] == want[0] and delta["rx_dropped"] == want[1] and
                     not delta["rx_length_errors"] and not delta["rx_frame_errors"] and
                     not self.replies(),
                     "UDP GSO batches: each message counted on its own, none answered", detail)
        self.r.diag("gso: " + detail)
        return delta

    # --- junk from outsiders ---

    def run_junk(self):
        n = self.o["count"]
        few = max(4, n // 10)
        deadline = time.monotonic() + 5
        while len(self.old_captures(0.5)) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        if not self.r.check(len(self.old_captures(0.5)) >= 20,
                            "captured real transport packets of the tunnel to mutate"):
            return
        self.r.diag("captured %d transport packets, session indices %s" % (
            len(self.captured), ", ".join("%08x" % i for i in sorted(self.live_indices()))))
        start = time.monotonic()
        self.junk_class("short datagrams (under 32 bytes)", self.c_short(n))
        self.junk_class("random datagrams of no message type", self.c_random(n))
        self.junk_class("message types with nonzero reserved bytes", self.c_reserved(n))
        self.junk_class("handshake and cookie types of the wrong length", self.c_wrong_length(n))
        self.junk_class("handshakes with a bad mac1", self.c_bad_mac1(n))
        self.junk_class("handshakes with a valid mac1 over garbage", self.c_mac1_only(n))
        self.junk_class("well-formed initiations from unknown keys", self.c_unknown_keys(few))
        self.junk_class("initiations claiming the legitimate peer's key", self.c_impersonation(few))
        self.junk_class("cookie replies nobody asked for", self.c_cookies(n))
        self.junk_class("transport data to unknown receiver indices", self.c_data_unknown(n))
        self.junk_class("forged transport data on the live session", self.c_data_forged(n))
        self.junk_class("replayed real transport packets", self.c_replays(n))
        self.junk_class("bit-flipped, truncated, extended real packets", self.c_mutations(n))
        self.junk_class("large datagrams (non-linear buffers)", self.c_large(few))
        self.gso(few)
        self.mark("junk", start, time.monotonic())

    # --- a configured peer that misbehaves after authenticating ---

    def k3_exchange(self, sock, msg, want, timeout=3.0):
        """Sends msg, returns the first reply for which want() is true."""
        deadline = time.monotonic() + timeout
        if msg is not None:
            sock.sendto(msg, self.target4)
        while time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 0.1)
            if r:
                reply = sock.recv(65535)
                got = want(reply)
                if got is not None:
                    return got
        return None

    def k3_handshake(self, k3, sock):
        msg = k3.initiation(self.rng.getrandbits(32))
        return self.k3_exchange(sock, msg, k3.consume_response)

    def run_authenticated(self):
        k3 = Initiator(self.o["k3_private"], self.pub)
        sock = self.udp(socket.AF_INET, "127.0.0.3")
        start = time.monotonic()
        session = self.k3_handshake(k3, sock)
        if not self.r.check(session is not None,
                            "control: our initiation from a configured key (K3) is answered; "
                            "the fuzzer's handshake is right"):
            return None
        send_key, recv_key, their_index = session
        self.k3 = (k3, sock)
        my_index = k3.pending[0]
        state = {"counter": 0, "seq": 0}

        def echo_reply_for(seq):
            def want(reply):
                if len(reply) < 32 or reply[0] != DATA or \
                        struct.unpack_from("<I", reply, 4)[0] != my_index:
                    return None
                plain = unseal(recv_key, struct.unpack_from("<Q", reply, 8)[0], reply[16:])
                if plain and len(plain) >= 28 and plain[0] >> 4 == 4 and plain[20] == 0 and \
                        struct.unpack_from("!HH", plain, 24) == (K3_ICMP_ID, seq):
                    return plain
                return None
            return want

        def packet(inner, counter=None, pad=True):
            if counter is None:
                counter = state["counter"]
                state["counter"] += 1
            return transport(send_key, their_index, counter, inner, pad)

        def echo(src="192.168.241.3", size=32):
            state["seq"] += 1
            return state["seq"], echo_request(src, "192.168.241.2", K3_ICMP_ID, state["seq"],
                                              self.rand(size))

        def expect(what, msg, counts, answered, seq=None):
            """counts: (errors, dropped, length_errors, frame_errors) it must add;
            answered: whether echo request seq gets its reply."""
            self.replies(sock)
            before = self.wg2.read()
            sock.sendto(msg, self.target4)
            reply = None
            if seq is not None and answered:
                reply = self.k3_exchange(sock, None, echo_reply_for(seq), 5.0)
            after = self.settle(before, dict(zip(STATS, counts)), timeout=5.0)
            if seq is not None and not answered:
                reply = self.k3_exchange(sock, None, echo_reply_for(seq), 0.2)
            delta = [after[k] - before[k] for k in STATS[:4]]
            detail = "rx_errors/dropped/length/frame +%s (want %s)%s" % (
                "/".join(map(str, delta)), "/".join(map(str, counts)),
                "" if seq is None else ", answered" if reply else ", not answered")
            self.r.check(tuple(delta) == tuple(counts) and bool(reply) == answered,
                         "authenticated peer: " + what, detail)

        seq, inner = echo()
        original = packet(inner)
        expect("an echo request is delivered and answered (control)", original,
               (0, 0, 0, 0), True, seq)
        expect("its exact replay is dropped, not answered again", original,
               (0, 1, 0, 0), False, seq)
        seq, inner = echo()
        fresh = packet(inner)
        for pos in (16, 16 + 20, len(fresh) - 17, len(fresh) - 1):
            m = bytearray(fresh)
            m[pos] ^= 1 << self.rng.randrange(8)
            expect("a fresh packet with a bit flipped at byte %d never arrives" % pos,
                   bytes(m), (0, 1, 0, 0), False, seq)
        expect("the unflipped original, sent after them, still arrives", fresh,
               (0, 0, 0, 0), True, seq)
        expect("a keepalive is accepted and delivers nothing", packet(b""), (0, 0, 0, 0), False)
        seq, inner = echo(size=1300)
        expect("a large packet without padding arrives", packet(inner, pad=False),
               (0, 0, 0, 0), True, seq)
        seq, inner = echo(src="192.168.241.1")
        expect("an inner source of another peer's is refused", packet(inner),
               (1, 0, 0, 1), False, seq)
        seq, inner = echo(src="10.9.9.9")
        expect("an inner source nobody may use is refused", packet(inner),
               (1, 0, 0, 1), False, seq)
        expect("an inner IPv6 source of another peer's is refused",
               packet(ipv6("fd00::1", "fd00::2", 59, self.rand(8))), (1, 0, 0, 1), False)
        expect("an inner packet of IP version 5 is refused",
               packet(b"\x55" + self.rand(40)), (1, 0, 1, 0), False)
        expect("an inner packet too short for an IPv4 header is refused",
               packet(b"\x45" + self.rand(10), pad=False), (1, 0, 1, 0), False)
        seq, inner = echo()
        expect("an IPv4 header length under 5 words is refused",
               packet(b"\x44" + inner[1:]), (1, 0, 1, 0), False, seq)
        seq, inner = echo()
        longer = inner[:2] + struct.pack("!H", len(inner) + 40) + inner[4:]
        expect("an IPv4 total length beyond the packet is refused",
               packet(longer, pad=False), (1, 0, 1, 0), False, seq)
        seq, inner = echo()
        expect("an IPv4 total length of 0 is refused",
               packet(inner[:2] + b"\0\0" + inner[4:]), (1, 0, 1, 0), False, seq)
        seq, inner = echo()
        tiny = inner[:2] + struct.pack("!H", 12) + inner[4:]
        expect("an IPv4 total length shorter than its header is refused",
               packet(tiny), (1, 0, 1, 0), False, seq)
        seq, inner = echo()
        expect("an IPv4 total length shorter than its options is refused",
               packet(b"\x46" + inner[1:2] + struct.pack("!H", 22) + inner[4:]),
               (1, 0, 1, 0), False, seq)
        expect("a truncated IPv6 header is refused",
               packet(ipv6("fd00::3", "fd00::2", 59, b"")[:36], pad=False), (1, 0, 1, 0), False)
        expect("an IPv6 payload length beyond the packet is refused",
               packet(ipv6("fd00::3", "fd00::2", 59, self.rand(8), plen=200)),
               (1, 0, 1, 0), False)

        # The replay window, at its edges (WINDOW counters below the newest).
        top = state["counter"] + 50000
        seq, inner = echo()
        expect("a counter far ahead is accepted", packet(inner, top), (0, 0, 0, 0), True, seq)
        seq, inner = echo()
        expect("a counter just out of the window behind it is dropped",
               packet(inner, top - WINDOW), (0, 1, 0, 0), False, seq)
        seq, inner = echo()
        edge = packet(inner, top - WINDOW + 1)
        expect("the oldest counter in the window is accepted", edge, (0, 0, 0, 0), True, seq)
        expect("and only once", edge, (0, 1, 0, 0), False)
        seq, inner = echo()
        expect("a counter of REJECT_AFTER_MESSAGES is dropped",
               packet(inner, REJECT_AFTER_MESSAGES), (0, 1, 0, 0), False, seq)
        state["counter"] = top + 1
        seq, inner = echo()
        expect("and did not move the window", packet(inner), (0, 0, 0, 0), True, seq)
        seq, inner = echo()
        expect("the last usable counter is accepted",
               packet(inner, REJECT_AFTER_MESSAGES - 1), (0, 0, 0, 0), True, seq)
        seq, inner = echo()
        expect("after it the session refuses everything", packet(inner, top + 2),
               (0, 1, 0, 0), False, seq)
        self.mark("authenticated", start, time.monotonic())
        return True

    # --- the cookie flood ---

    def run_flood(self):
        count = self.o["flood"]
        # One flooding socket and thread per CPU, up to three: 3072
        # initiations at once still fit in the device's queue.
        floods = [self.udp(socket.AF_INET, "127.0.0.2")
                  for _ in range(max(1, min(os.cpu_count() or 1, 3)))]
        badmac = self.udp(socket.AF_INET, "127.0.0.4")
        k3, k3sock = getattr(self, "k3", (None, None))
        mac1s, with_cookie = {}, set()
        cookie = None
        cookies, others, undecryptable, answered_mac2 = 0, [], 0, 0
        bad_replies = 0
        k3_state, k3_deadline, k3_cookie, k3_done = "wait", 0, None, None
        # K3's initiations in flight, by sender index: (handshake state,
        # mac1, whether it carried the cookie).  A reply may come after K3
        # gave up waiting for it and sent the next one.
        k3_pending = {}
        k3_seen = {"sent": 0, "sent with a cookie": 0, "cookie replies": 0,
                   "plain handshakes": 0, "refused responses": 0}
        self.quiesce()
        before = self.wg2.read()
        with self.capture_lock:
            legit_before = len(self.initiations)
        stack_drops = softnet_drops()
        sent = sent_bad = 0

        def drain():
            nonlocal cookies, undecryptable, answered_mac2, cookie, bad_replies
            # A cookie is bound to the address and port it was sent to:
            # the initiations with a cookie go out on floods[0], so theirs
            # must come from a reply there.
            for reply, first in ([(r, True) for r in self.replies(floods[0])] +
                                 [(r, False) for f in floods[1:] for r in self.replies(f)]):
                if len(reply) != COOKIE_LEN or reply[0] != COOKIE:
                    others.append(reply[:8].hex())
                    continue
                idx = struct.unpack_from("<I", reply, 4)[0]
                if idx in with_cookie:
                    answered_mac2 += 1
                if idx not in mac1s:
                    undecryptable += 1
                    continue
                got = open_cookie_reply(reply, self.pub, mac1s[idx])
                if got is None:
                    undecryptable += 1
                    continue
                cookies += 1
                if first:
                    cookie = got
            bad_replies += len(self.replies(badmac))

        def initiation(use_cookie):
            idx = self.rng.getrandbits(32)
            body = self.header(INITIATION, INITIATION_LEN)[:-32]
            body = body[:4] + struct.pack("<I", idx) + body[8:]
            m = with_macs(body, self.pub, cookie if use_cookie else None)
            mac1s[idx] = m[-32:-16]
            if use_cookie:
                with_cookie.add(idx)
            return m

        # The device is under load while its handshake queue holds an
        # eighth of its 4096 places, and stays so for a second after.  A
        # steady flood from here settles where the device's workers keep
        # up (each DH'd initiation costs them milliseconds on an emulated
        # CPU, and they take the CPU this process would flood with), so the
        # flood comes in bursts instead: 1024 initiations in one system call
        # from each CPU at once fill the queue past that mark faster than
        # the workers empty it (on a debug kernel, sending costs more than
        # the DH), never past its end, and K3 sends in the middle of each
        # burst, while the device is surely under load.  Building a message
        # (two BLAKE2s) is slow here, so the bursts come from a pool built
        # beforehand; the device checks and queues each copy as a message
        # of its own.
        pool = [initiation(False) for _ in range(1024)]
        pools = [Burst(pool) for _ in floods]
        bad_pool = Burst([self.header(INITIATION, INITIATION_LEN) for _ in range(64)])
        for f in floods:
            f.connect(self.target4)

        def burst(halfway):
            """Every pool at once, one thread each (ctypes lets go of the
            GIL in sendmmsg, and each thread inherits our nice value);
            halfway() runs when this thread has sent half of its pool."""
            got = [0] * len(pools)

            def one(i):
                got[i] = pools[i].send(floods[i])
            helpers = [threading.Thread(target=one, args=(i,)) for i in range(1, len(pools))]
            for t in helpers:
                t.start()
            half = pools[0].n // 2
            got[0] = pools[0].send(floods[0], 0, half)
            halfway()
            got[0] += pools[0].send(floods[0], half)
            for t in helpers:
                t.join()
            return sum(got)
        badmac.connect(self.target4)

        def k3_send():
            nonlocal k3_state, k3_deadline
            now = time.monotonic()
            if k3_state != "wait" and now < k3_deadline:
                return
            idx = self.rng.getrandbits(32)
            msg = k3.initiation(idx, k3_cookie)
            k3_pending[idx] = (k3.pending, msg[-32:-16], k3_cookie is not None)
            k3sock.sendto(msg, self.target4)
            k3_seen["sent"] += 1
            k3_seen["sent with a cookie"] += k3_cookie is not None
            k3_state, k3_deadline = "sent", now + 1.0

        def k3_receive():
            nonlocal k3_state, k3_cookie, k3_done
            for reply in self.replies(k3sock):
                if len(reply) < 12:
                    continue
                idx = struct.unpack_from("<I", reply, 4 if reply[0] == COOKIE else 8)[0]
                if idx not in k3_pending:
                    continue
                state, mac1, carried_cookie = k3_pending[idx]
                if len(reply) == COOKIE_LEN and reply[0] == COOKIE:
                    k3_seen["cookie replies"] += 1
                    got = open_cookie_reply(reply, self.pub, mac1)
                    if got is not None and k3_cookie is None:
                        k3_cookie, k3_state = got, "wait"
                elif len(reply) == RESPONSE_LEN and reply[0] == RESPONSE:
                    k3.pending = state
                    if not k3.consume_response(reply):
                        k3_seen["refused responses"] += 1
                    elif carried_cookie:
                        k3_done = "with a cookie, after %d handshakes without" % (
                            k3_seen["plain handshakes"])
                    else:
                        k3_seen["plain handshakes"] += 1
                        k3_state = "wait"

        def k3_wait(timeout):
            """Until K3's latest initiation is answered, or timeout."""
            deadline = time.monotonic() + timeout
            while k3_done is None and k3_state == "sent" and time.monotonic() < deadline:
                k3_receive()
                time.sleep(0.05)

        def answered():
            """Flood datagrams the device has counted or answered so far."""
            drain()
            now = self.wg2.read()
            return (now["rx_errors"] - before["rx_errors"] +
                    now["rx_dropped"] - before["rx_dropped"] + cookies)

        def wait_answered(timeout):
            """Until the device has dealt with all we sent, or stalls."""
            deadline = time.monotonic() + timeout
            last, last_change = -1, time.monotonic()
            while time.monotonic() < deadline:
                got = answered()
                if got >= sent + sent_bad:
                    return
                if got != last:
                    last, last_change = got, time.monotonic()
                elif time.monotonic() - last_change > 2.0:
                    return
                time.sleep(0.05)

        # The flooder must not lose the CPU to the workers it floods.
        nice_before = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, -15)
        start = time.monotonic()
        give_up = start + self.o["flood_seconds"]
        bursts = 0
        while time.monotonic() < give_up:
            k3_active = k3 is not None and k3_done is None
            if sent >= count and not k3_active:
                break
            sent += burst(k3_send if k3_active else lambda: None)
            sent_bad += bad_pool.send(badmac)
            bursts += 1
            for _ in range(16 if cookie is not None else 0):
                try:
                    floods[0].send(initiation(True))
                    sent += 1
                except OSError:
                    pass
            # K3's initiation went out in the middle of the burst: with
            # hundreds queued behind it, the device is under load when it
            # gets to it (right behind the burst, on a debug kernel, the
            # queue had emptied and the load ended before).  K3 goes on
            # until one of its initiations is asked for a cookie and the
            # next, carrying that cookie, is answered.  The next burst comes
            # when the device has worked through this one: a full queue
            # would drop K3's too.
            wait_answered(15.0)
            if k3_active:
                k3_wait(10.0)
        flood_end = time.monotonic()
        os.setpriority(os.PRIO_PROCESS, 0, nice_before)
        wait_answered(30.0)
        after = self.wg2.read()
        stack_drops = softnet_drops() - stack_drops
        self.mark("flood", start, flood_end)
        delta = {k: after[k] - before[k] for k in STATS}
        self.r.diag("flood: %d initiations (%d with a cookie) in %d bursts, %.1fs, "
                    "%d cookie replies, rx_errors +%d, rx_dropped +%d" % (
                        sent, len(with_cookie), bursts, flood_end - start, cookies,
                        delta["rx_errors"], delta["rx_dropped"]))
        self.r.check(cookies > 0, "under load, valid-mac1 initiations are answered with cookie replies")
        self.r.check(undecryptable == 0 and not others,
                     "every reply is a cookie for one of our initiations, bound to its mac1",
                     "%d undecryptable, other replies: %s" % (undecryptable, others[:4]))
        self.r.check(bad_replies == 0, "initiations with a bad mac1 get no reply, even under load",
                     "%d replies" % bad_replies)
        self.r.check(len(with_cookie) > 0 and answered_mac2 == 0,
                     "initiations carrying a valid cookie (mac2) are not asked for another",
                     "%d sent, %d answered with a cookie" % (len(with_cookie), answered_mac2))
        self.r.check(not delta["rx_length_errors"] and not delta["rx_frame_errors"],
                     "nothing in the flood authenticated as data")
        # Each flood datagram is either counted (an error, or dropped with
        # the queue full) or answered with a cookie, never both; only the
        # stack's own backlog may lose some before the device sees them.
        # ...and wg1, renewing its session on a slow kernel meanwhile, may
        # have each of its initiations counted too (refused, or dropped with
        # the queue full).
        with self.capture_lock:
            legit = len(self.initiations) - legit_before
        accounted = delta["rx_errors"] + delta["rx_dropped"] + cookies
        self.r.check(sent + sent_bad - stack_drops <= accounted <= sent + sent_bad + legit,
                     "every flood datagram was counted or answered, once",
                     "%d + %d sent, %d lost in the stack's backlog, %d counted or answered, "
                     "%d initiations from wg1" % (sent, sent_bad, stack_drops, accounted, legit))
        if k3 is not None:
            self.r.check(k3_done is not None,
                         "a configured peer gets a cookie under load and completes its "
                         "handshake with it", "no handshake with a cookie; K3: %s" % ", ".join(
                             "%s %d" % kv for kv in k3_seen.items()))
            if k3_done:
                self.r.diag("K3: %s (%s)" % (k3_done, ", ".join(
                    "%s %d" % kv for kv in k3_seen.items())))

    def run(self):
        if "junk" in self.o["phases"]:
            self.run_junk()
        if "auth" in self.o["phases"]:
            self.run_authenticated()
        if "flood" in self.o["phases"]:
            self.run_flood()
        self.r.diag("fuzzer: %d junk datagrams sent outside the flood" % self.sent_total)
        with open(self.o["marks"], "w") as f:
            json.dump(self.marks, f)


def b64key(text):
    import base64
    raw = base64.b64decode(text.strip())
    assert len(raw) == 32
    return raw


def cmd_fuzz(args):
    """fuzz key=value...: see fuzz-packets.sh."""
    kv = dict(a.split("=", 1) for a in args)
    self_check()
    opts = {
        "dev": kv["dev"], "outer_netns": kv["outer_netns"], "port": int(kv["port"]),
        "legit_port": int(kv["legit_port"]), "public": b64key(kv["public"]),
        "legit_public": b64key(kv["legit_public"]),
        "k3_private": b64key(open(kv["k3_private"]).read()),
        "seed": int(kv["seed"]), "count": int(kv["count"]), "flood": int(kv["flood"]),
        "flood_seconds": float(kv.get("flood_seconds", 150)), "marks": kv["marks"],
        "phases": kv.get("phases", "junk,auth,flood").split(","),
    }
    results = Results()
    Fuzzer(opts, results).run()
    return 0


# --- the verdict on the stream ----------------------------------------------------------


def cmd_analyze(args):
    """analyze SENT GOT MARKS MAXGAP MAXLOSS LOSTFILE: per phase, loss and the
    longest silence; the total of lost datagrams goes to LOSTFILE."""
    sent = json.load(open(args[0]))
    got = json.load(open(args[1]))
    marks = json.load(open(args[2]))
    max_gap, max_loss = float(args[3]), float(args[4])
    results = Results()
    log = sent["sent"]
    received = {int(k): v for k, v in got["got"].items()}
    dups = sum(len(v) - 1 for v in received.values() if len(v) > 1)
    with open(args[5], "w") as f:
        f.write("%d\n" % sum(1 for q, _ in log if q not in received))
    results.diag("stream: %d sent, %d send errors %s, %d received, %d duplicates, %d foreign" % (
        len(log), sum(sent["errors"].values()), sent["errors"] or "", len(received), dups,
        len(got["foreign"])))
    results.diag("inner packets seen on the device: %s" % dict(got["inner"]))
    results.check(dups == 0, "no stream datagram was delivered twice")
    results.check(not got["foreign"], "the stream receiver got nothing that was not sent",
                  "\n".join(got["foreign"][:5]))
    results.check(got["inner"].get("other", 0) == 0 and got["raw_drops"] == 0,
                  "every inner packet the device delivered was sent legitimately",
                  "unexplained: %s; capture drops %d" % (got["odd"], got["raw_drops"]))
    results.check(not sent["errors"], "the stream never failed to send", str(sent["errors"]))
    if not log:
        results.check(False, "the stream ran")
        return 1
    t_first, t_last = log[0][1], log[-1][1]
    phases = [(n, s, e) for n, s, e in marks]
    fuzz_start = min((s for _, s, _ in phases), default=t_last)
    fuzz_end = max((e for _, _, e in phases), default=t_last)
    phases = [("before", t_first, fuzz_start)] + phases + [("after", fuzz_end, t_last + 0.001)]
    for name, start, end in phases:
        seqs = [q for q, t in log if start <= t < end]
        if not seqs:
            results.diag("stream during %s: nothing sent" % name)
            continue
        lost = [q for q in seqs if q not in received]
        times = sorted(received[q][0] for q in seqs if q in received)
        edges = [start] + times + [max(end, times[-1] if times else end)]
        gap = max(b - a for a, b in zip(edges, edges[1:]))
        loss = len(lost) / len(seqs)
        detail = "%d sent, %d lost (%.2f%%), longest silence %.2fs" % (
            len(seqs), len(lost), 100 * loss, gap)
        results.diag("stream during %s: %s" % (name, detail))
        if name in ("before", "after"):
            results.check(not lost and gap < max_gap,
                          "quiet %s the fuzzing: the stream loses nothing" % name, detail)
        else:
            results.check(loss <= max_loss and gap < max_gap,
                          "the tunnel keeps flowing during the %s phase (loss at most %.0f%%, "
                          "no silence of %.0fs)" % (name, 100 * max_loss, max_gap), detail)
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    return {"stream-send": cmd_stream_send, "stream-recv": cmd_stream_recv,
            "sniff": cmd_sniff, "fuzz": cmd_fuzz, "analyze": cmd_analyze}[cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
