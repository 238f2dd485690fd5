#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Helpers of the benchmark area "handshakes" (tools/bench/handshakes.sh).

  handshakes.py recv CTL N READY
      In the responder's namespace: counts the trigger datagrams of each
      round arriving on UDP port 9999 (payload "ROUND INDEX"); when all N of
      a round have arrived, tells the driver on the Unix datagram socket CTL
      "ROUND T" (T = CLOCK_MONOTONIC of the last arrival).  Touches READY when
      listening.  Runs until killed.

  handshakes.py drive CTL N ROUNDS PREFIX
      In the initiators' namespace, where devices PREFIX1..PREFIXN have
      10.200.i/32 with peer 10.201.i/32: per round, takes every device down
      and up again (one `ip -batch`: their sessions are gone), then sends one
      datagram to each 10.201.i:9999; each waits in its device for a new
      handshake and is delivered after it.  Prints "round R MS" (from the
      first sendto() to the last arrival) or "round R timeout".  Round 0 is
      the first handshake after setup.

  handshakes.py flood MODE RATE SECONDS PORT [PUBKEY]
      Sends 148-byte handshake initiations (type 1) to 127.0.0.1:PORT at RATE
      per second (0: as fast as it can) for SECONDS or until SIGTERM.
      MODE bogus: random bytes after the header, so MAC1 is wrong (dropped
      after one keyed BLAKE2s).  MODE mac1: random ephemeral, static and
      timestamp but a valid MAC1 for the responder's PUBKEY (base64), the
      packets an attacker who knows the public key sends: each costs the
      responder a Diffie-Hellman unless it is under load, where it answers
      with a cookie reply instead.  Prints sent, errors, seconds, pps and the
      cookie replies (type 3) received.
"""
import base64
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time


def addr(net, i):
    return "10.%d.%d.%d" % (net, i >> 8 & 255, i & 255)


def recv(ctl, n, ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", 9999))
    u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    seen = {}
    done = set()
    open(ready, "w").write("ready\n")
    while True:
        data = s.recv(256)
        t = time.monotonic()
        try:
            r, i = map(int, data.split())
        except ValueError:
            continue
        if r in done:
            continue
        got = seen.setdefault(r, set())
        got.add(i)
        if len(got) == n:
            done.add(r)
            del seen[r]
            try:
                u.sendto(b"%d %.9f" % (r, t), ctl)
            except OSError:
                pass


def drive(ctl, n, rounds, prefix):
    u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    u.bind(ctl)
    u.settimeout(30)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    batch = "".join("link set %s%d down\n" % (prefix, i) for i in range(1, n + 1))
    batch += "".join("link set %s%d up\n" % (prefix, i) for i in range(1, n + 1))
    for r in range(rounds + 1):
        if r:
            subprocess.run(["ip", "-batch", "-"], input=batch.encode(), check=True)
        t0 = time.monotonic()
        for i in range(1, n + 1):
            s.sendto(b"%d %d" % (r, i), (addr(201, i), 9999))
        t1 = None
        while True:
            try:
                data = u.recv(256)
            except socket.timeout:
                break
            rr, t = data.split()
            if int(rr) == r:
                t1 = float(t)
                break
        if t1 is None:
            print("round %d timeout" % r, flush=True)
        else:
            print("round %d %.3f" % (r, (t1 - t0) * 1000), flush=True)
        time.sleep(0.1)


def flood(mode, rate, secs, port, pubkey):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    if mode == "mac1":
        spub = base64.b64decode(pubkey)
        # The MAC1 key: HASH(LABEL_MAC1 || responder's public key).
        mac1_key = hashlib.blake2s(b"mac1----" + spub).digest()
    pkts = []
    for _ in range(2048):
        body = struct.pack("<I", 1) + os.urandom(112)  # type, sender, e, s, ts
        if mode == "mac1":
            body += hashlib.blake2s(body, digest_size=16, key=mac1_key).digest()
        else:
            body += os.urandom(16)
        pkts.append(body + bytes(16))  # no MAC2: no cookie
    sent = errors = cookies = 0
    start = time.monotonic()
    end = start + secs
    npk = len(pkts)
    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        burst = 64 if rate <= 0 else min(64, int((now - start) * rate) - sent - errors)
        if burst <= 0:
            time.sleep(0.0005)
        for _ in range(max(burst, 0)):
            try:
                s.send(pkts[(sent + errors) % npk])
                sent += 1
            except BlockingIOError:
                errors += 1
            except OSError:
                errors += 1
        try:
            while True:
                d = s.recv(256)
                if d[:1] == b"\x03":
                    cookies += 1
        except (BlockingIOError, OSError):
            pass
    el = time.monotonic() - start
    print("sent %d" % sent)
    print("errors %d" % errors)
    print("seconds %.3f" % el)
    print("pps %.0f" % (sent / el if el else 0))
    print("cookies %d" % cookies, flush=True)


def main():
    a = sys.argv[1:]
    if a[:1] == ["recv"]:
        recv(a[1], int(a[2]), a[3])
    elif a[:1] == ["drive"]:
        drive(a[1], int(a[2]), int(a[3]), a[4])
    elif a[:1] == ["flood"]:
        flood(a[1], float(a[2]), float(a[3]), int(a[4]), a[5] if len(a) > 5 else "")
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
