#!/bin/sh
# mamori bench vs ModSecurity v3 (Debian's libmodsecurity3) on the same
# corpus with the same CRS v4 at the same paranoia level, measured in one run
# on this machine, rounds interleaved. Writes only under /tmp.
#
#   bench/compare-modsec.sh [CORPUS]        (default ../shared/bench/corpus.jsonl.zst)
#   ROUNDS=3 PARANOIA=1 bench/compare-modsec.sh
#
# Needs: apt-get install libmodsecurity-dev modsecurity-crs nginx
#        libnginx-mod-http-modsecurity zstd   (the peer's build.sh checks them)
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${MAMORI_SHARED:-$repo/../shared}
corpus=${1:-$shared/bench/corpus.jsonl.zst}
rounds=${ROUNDS:-1}
pl=${PARANOIA:-1}
out=/tmp/mamori-compare
mkdir -p "$out"
[ -x "$repo/build/release/mamori" ] || make -C "$repo" build/release/mamori >/dev/null
# the peer: build its harness and configs (under /tmp/modsec-bench)
"$shared/peers/modsec-bench/build.sh" > "$out/peer-build.log" 2>&1 || {
    echo "peer build failed, see $out/peer-build.log" >&2; exit 1; }
work=/tmp/modsec-bench/work
plain=$out/corpus.jsonl
case $corpus in *.zst) zstd -dcf "$corpus" > "$plain" ;; *) cp "$corpus" "$plain" ;; esac
for r in $(seq 1 "$rounds"); do
    echo "round $r: ModSecurity v3 + CRS v4 PL$pl" >&2
    "$work/modsec-bench" -r "$work/conf/crs4-pl$pl.conf" -c "$plain" -w 1 -W 1000 -n 1 \
        -l "crs4-pl$pl" -j "$out/modsec.r$r.json" 2> "$out/modsec.r$r.log"
    echo "round $r: mamori + CRS v4 PL$pl" >&2
    "$repo/build/release/mamori" bench --json --crs "$shared/crs" --paranoia "$pl" \
        "$plain" > "$out/mamori.r$r.json"
done
python3 - "$out" "$rounds" <<'PY'
import json, sys, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
m = [json.load(open(f"{out}/mamori.r{r}.json")) for r in range(1, rounds + 1)]
s = [json.load(open(f"{out}/modsec.r{r}.json")) for r in range(1, rounds + 1)]
med = lambda xs: statistics.median(xs)
mr, sr = med([x["requests_per_sec"] for x in m]), med([x["rps"] for x in s])
print(f"{'':22}{'mamori':>12}{'ModSecurity':>14}{'ratio':>9}")
print(f"{'requests/s':22}{mr:12.0f}{sr:14.0f}{mr/sr:8.1f}x")
mp50, sp50 = med([x["p50_us"] for x in m]), med([x["p50_us"] for x in s])
mp99, sp99 = med([x["p99_us"] for x in m]), med([x["p99_us"] for x in s])
print(f"{'p50 us':22}{mp50:12.0f}{sp50:14.0f}{sp50/mp50:8.1f}x")
print(f"{'p99 us':22}{mp99:12.0f}{sp99:14.0f}{sp99/mp99:8.1f}x")
ml, sl = med([x["load_ms"] for x in m]), med([x["load_ms"] for x in s])
print(f"{'rule load ms':22}{ml:12.0f}{sl:14.0f}")
print(f"{'peak RSS KiB':22}{m[0]['peak_rss_kb']:12d}")
print(f"blocked by mamori: {m[0]['blocked_attack']}/{m[0]['attacks']} attacks, "
      f"{m[0]['blocked_benign']}/{m[0]['benign']} benign")
PY
