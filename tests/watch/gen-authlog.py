#!/usr/bin/env python3
"""Generates a Debian-style auth.log with known attackers, and the bans and
alerts mamori must derive from it.

usage: gen-authlog.py OUT.log EXPECTED.json [--lines N] [--attackers N] [--seed S]

The file holds exactly N lines (default 1,000,000), time-ordered RFC 3164
stamps over five days of November 2026 (replay with --now 1795900000).
Populations (the default numbers scale with --attackers):
  * brute forcers: IPv4 addresses, one burst of 6..15 attempts a few seconds
    apart -> one ban each; a tenth come back hours later (second ban, twice
    as long), a hundredth a third time;
  * IPv6 brute force from /64 networks: 5 addresses per /64, 2 attempts each:
    no single address reaches the threshold, the /64 does -> one ban per /64;
  * near misses: 3 failed passwords and one pre-auth disconnect (3.5 points)
    -> never banned;
  * slow guessers: one failure every two hours -> never banned;
  * loopback hammering -> never banned (allowlist);
  * a user name that tries to frame 6.6.6.6 -> 6.6.6.6 never banned;
  * legitimate logins: new addresses (a medium alert each) and logins right
    after 3 failures (a high alert each);
  * noise: cron, systemd, session lines, invalid UTF-8 and one 1 MB line.
Expected: {"bans": {"ADDR": count}, "alerts": {"high": N, "medium": N}}.
"""
import ipaddress
import json
import random
import sys

T0 = 1795132800  # 2026-11-20T00:00:00Z
SPAN = 5 * 86400
MON = "Nov"


def stamp(t):
    d = (t - 1795046400) // 86400 + 19  # 2026-11-19 is day 19
    s = t % 86400
    return "%s %2d %02d:%02d:%02d" % (MON, d, s // 3600, s % 3600 // 60, s % 60)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out, expf = args[0], args[1]
    nlines, nattack, seed = 1000000, 10000, 42
    i = 2
    while i < len(args):
        if args[i] == "--lines":
            nlines = int(args[i + 1]); i += 2
        elif args[i] == "--attackers":
            nattack = int(args[i + 1]); i += 2
        elif args[i] == "--seed":
            seed = int(args[i + 1]); i += 2
        else:
            sys.exit("unknown option " + args[i])
    rnd = random.Random(seed)
    ev = []  # (t, seq, line)
    seq = [0]

    def add(t, msg, prog="sshd"):
        seq[0] += 1
        pid = 1000 + (seq[0] % 30000)
        ev.append((t, seq[0], "%s web %s[%d]: %s" % (stamp(t), prog, pid, msg)))

    used = set()

    def v4():
        while True:
            a = "%d.%d.%d.%d" % (rnd.randint(11, 223), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254))
            if a not in used and not a.startswith("127.") and a != "6.6.6.6":
                used.add(a)
                return a

    users = ["root", "admin", "oracle", "test", "ubuntu", "git", "postgres", "user", "pi", "ftpuser"]

    def attempt(t, ip, kind):
        port = rnd.randint(1024, 65535)
        u = rnd.choice(users)
        if kind == 0:   # root-ish: failed password (+ disconnect sometimes)
            add(t, "Failed password for %s from %s port %d ssh2" % (u, ip, port))
        elif kind == 1:  # invalid user: three lines
            add(t, "Invalid user %s from %s port %d" % (u, ip, port))
            add(t, "Failed password for invalid user %s from %s port %d ssh2" % (u, ip, port))
            add(t + 1, "Connection closed by invalid user %s %s port %d [preauth]" % (u, ip, port))
        else:            # too many failures on one connection
            add(t, "Failed password for %s from %s port %d ssh2" % (u, ip, port))
            add(t, "error: maximum authentication attempts exceeded for %s from %s port %d ssh2 [preauth]" % (u, ip, port))
            add(t, "Disconnecting authenticating user %s %s port %d: Too many authentication failures [preauth]" % (u, ip, port))

    def burst(t, ip, n):
        for _ in range(n):
            attempt(t, ip, rnd.choice((0, 0, 1, 2)))
            t += rnd.randint(1, 3)
        return t

    bans = {}
    n6 = nattack // 10          # IPv6 addresses (5 per /64)
    n4 = nattack - n6
    for k in range(n4):
        ip = v4()
        t = T0 + rnd.randint(0, SPAN - 40000)
        burst(t, ip, rnd.randint(6, 15))
        bans[ip] = 1
        if k % 10 == 0:          # back after the ban ran out
            t2 = t + rnd.randint(7200, 14400)
            burst(t2, ip, rnd.randint(6, 10))
            bans[ip] = 2
            if k % 100 == 0:
                burst(t2 + rnd.randint(7200, 14400), ip, 6)
                bans[ip] = 3
    for k in range(n6 // 5):
        net = "2001:db8:%x:%x" % (k // 65536 + 1, k % 65536)
        t = T0 + rnd.randint(0, SPAN - 40000)
        for h in range(5):
            ip = "%s::%x" % (net, rnd.randint(1, 0xfff) * 16 + h)
            for _ in range(2):
                add(t, "Failed password for root from %s port %d ssh2" % (ip, rnd.randint(1024, 65535)))
                t += 1
        bans[str(ipaddress.ip_network(net + "::/64"))] = 1
    # near misses: 3.5 points in a burst
    for _ in range(max(1, nattack // 5)):
        ip = v4()
        t = T0 + rnd.randint(0, SPAN - 100)
        for j in range(3):
            add(t + j, "Failed password for root from %s port %d ssh2" % (ip, rnd.randint(1024, 65535)))
        add(t + 4, "Connection closed by authenticating user root %s port %d [preauth]" % (ip, rnd.randint(1024, 65535)))
    # slow guessers: one failure per two hours
    for _ in range(max(1, nattack // 3)):
        ip = v4()
        t = T0 + rnd.randint(0, 3600)
        for j in range(6):
            add(t + j * 7200, "Failed password for root from %s port %d ssh2" % (ip, rnd.randint(1024, 65535)))
    # loopback and the framing attempt
    for j in range(200):
        add(T0 + 1000 + j, "Failed password for root from 127.0.0.1 port %d ssh2" % (40000 + j))
        add(T0 + 1000 + j, "Failed password for root from ::1 port %d ssh2" % (40000 + j))
    framer = v4()
    for j in range(12):
        add(T0 + 5000 + j, "Failed password for invalid user x from 6.6.6.6 from %s port %d ssh2" % (framer, 1000 + j))
    bans[framer] = 1
    # legitimate logins
    nlegit = max(2, nattack // 20)
    nhigh = max(1, nlegit // 10)
    for k in range(nlegit):
        ip = v4()
        t = T0 + rnd.randint(0, SPAN - 100000)
        if k < nhigh:
            for j in range(3):
                add(t + j, "Failed password for alice from %s port %d ssh2" % (ip, 2000 + j))
            add(t + 5, "Accepted password for alice from %s port 2010 ssh2" % ip)
        else:
            for j in range(rnd.randint(1, 4)):
                add(t + j * 20000, "Accepted publickey for deploy from %s port %d ssh2: ED25519 SHA256:abc" % (ip, 3000 + j))
                add(t + j * 20000, "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)")
    # malformed lines
    seq[0] += 1
    ev.append((T0 + 10, seq[0], "%s web sshd[9]: Failed password for \udcff\udcfe from 1.2.3" % stamp(T0 + 10)))
    seq[0] += 1
    ev.append((T0 + 11, seq[0], "\x00\x01garbage\x7f line"))
    seq[0] += 1
    ev.append((T0 + 12, seq[0], "%s web sshd[9]: Invalid user %s from" % (stamp(T0 + 12), "A" * (1 << 20))))
    # noise up to nlines
    noise = [
        "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
        "Started Session 4242 of User deploy.",
        "Received disconnect from 10.0.0.5 port 51000:11: disconnected by user",
        "Server listening on 0.0.0.0 port 22.",
    ]
    progs = ["CRON", "CRON", "systemd-logind", "sshd", "sshd"]
    while len(ev) < nlines:
        j = rnd.randrange(len(noise))
        add(T0 + rnd.randint(0, SPAN), noise[j], progs[j])
    if len(ev) > nlines:
        sys.exit("too many attack lines for --lines %d (%d)" % (nlines, len(ev)))
    ev.sort()
    with open(out, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        for _, _, line in ev:
            f.write(line)
            f.write("\n")
    # expected alerts: medium for first logins, high for after-failure logins
    exp = {"bans": bans, "ban_count": sum(bans.values()),
           "alerts": {"high": nhigh, "medium": nlegit - nhigh}, "lines": nlines}
    with open(expf, "w") as f:
        json.dump(exp, f, sort_keys=True)


if __name__ == "__main__":
    main()
