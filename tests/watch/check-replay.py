#!/usr/bin/env python3
"""Compares `mamori watch --once --json` output with gen-authlog.py's
expectations. Prints the differences; exits 1 on any."""
import collections
import json
import sys

got = json.load(open(sys.argv[1]))
exp = json.load(open(sys.argv[2]))
bad = 0
cnt = collections.Counter(b["ip"] for b in got["bans"])
want = exp["bans"]
missing = sorted(set(want) - set(cnt))
extra = sorted(set(cnt) - set(want))
wrong = sorted(ip for ip in set(cnt) & set(want) if cnt[ip] != want[ip])
for name, lst in (("missing", missing), ("unexpected", extra), ("wrong count", wrong)):
    if lst:
        bad = 1
        print("%s bans: %d, e.g. %s" % (name, len(lst), ", ".join(
            "%s(got %d want %d)" % (ip, cnt.get(ip, 0), want.get(ip, 0)) for ip in lst[:5])))
# repeat offenders: the n-th ban lasts 2^(n-1) times the first
for b in got["bans"]:
    if b["duration_s"] != 600 * (1 << (b["count"] - 1)):
        bad = 1
        print("ban %s offence %d lasts %d s" % (b["ip"], b["count"], b["duration_s"]))
        break
sev = collections.Counter(a["severity"] for a in got["alerts"])
for s, n in exp["alerts"].items():
    if sev.get(s, 0) != n:
        bad = 1
        print("alerts %s: got %d want %d" % (s, sev.get(s, 0), n))
if got["lines"] != exp["lines"]:
    bad = 1
    print("lines: got %d want %d" % (got["lines"], exp["lines"]))
print("bans: %d (expected %d), alerts: %s" % (len(got["bans"]), exp["ban_count"], dict(sev)))
sys.exit(bad)
