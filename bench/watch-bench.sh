#!/usr/bin/env bash
# Replay speed of `mamori watch --once` against fail2ban-regex (Debian's
# sshd filter) on the same generated 1,000,000-line auth.log, side by side,
# plus peak RSS with a million distinct attacking addresses.
#   bench/watch-bench.sh [MAMORI]   (default: build/release/mamori, or the
#                                    test driver tests/watch/run builds)
set -eu
cd "$(dirname "$0")/.."
M=${1:-${MAMORI:-build/release/mamori}}
T=$(mktemp -d /tmp/mamori-watch-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
if ! "$M" watch --help >/dev/null 2>&1; then
    echo "$M does not know 'watch'; pass a binary that does (e.g. the test driver)" >&2
    exit 2
fi
python3 tests/watch/gen-authlog.py "$T/auth.log" "$T/auth.exp"
echo "file: $(wc -l <"$T/auth.log") lines, $(du -m "$T/auth.log" | cut -f1) MB"
best=999
for i in 1 2 3; do
    s=$(date +%s.%N)
    MAMORI_WATCH_STATS=1 "$M" watch --once --json --now 1795900000 "$T/auth.log" >"$T/out.json" 2>"$T/stats"
    e=$(date +%s.%N)
    best=$(python3 -c "print(min($best, $e - $s))")
done
python3 tests/watch/check-replay.py "$T/out.json" "$T/auth.exp"
cat "$T/stats"
printf 'mamori watch --once: best of 3 %.3f s wall = %.0f lines/s\n' "$best" "$(python3 -c "print(1e6/$best)")"
if command -v fail2ban-regex >/dev/null; then
    s=$(date +%s.%N)
    fail2ban-regex "$T/auth.log" /etc/fail2ban/filter.d/sshd.conf >"$T/f2b" 2>&1
    e=$(date +%s.%N)
    f=$(python3 -c "print($e - $s)")
    grep -E '^Lines:' "$T/f2b" || true
    printf 'fail2ban-regex sshd.conf: %.3f s wall = %.0f lines/s\n' "$f" "$(python3 -c "print(1e6/$f)")"
    printf 'ratio: %.1fx\n' "$(python3 -c "print($f/$best)")"
else
    echo "fail2ban-regex: not installed (apt-get install fail2ban)"
fi
python3 - "$T/many.log" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1000000):
        f.write("2026-11-25T21:00:00+00:00 web sshd[1]: Failed password for root from 10.%d.%d.%d port 22 ssh2\n" % (i >> 16 & 255, i >> 8 & 255, i & 255))
PY
MAMORI_WATCH_STATS=1 "$M" watch --once --json "$T/many.log" 2>&1 >/dev/null | sed 's/^/1M distinct addresses: /'
