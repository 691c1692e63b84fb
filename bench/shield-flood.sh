#!/bin/bash
# The bot shield under a flood, on loopback:
#   one client (wrk from 127.0.0.1, CONNS keep-alive connections) floods
#   mamori as fast as it can; mamori holds it to --rate-limit RATE,burst=BURST
#   with 429s, while a well-behaved client (Python, bound to 127.0.0.2,
#   GOOD_RPS requests/s on one keep-alive connection) keeps browsing.
# First the good client runs alone for BASE_DURATION seconds (its baseline
# latency), then together with the flood for DURATION seconds. Prints both
# clients' figures: the flood's allowed req/s against the configured rate
# (counted at the backend, by X-Real-IP), its 429 count, and the good
# client's p50/p99 with and without the flood.
#
#   DURATION=60 RATE=100 BURST=100 CONNS=64 GOOD_RPS=20 WORKERS=1 bench/shield-flood.sh
#
# Writes only under $RUN_DIR (default /tmp/mamori-shield-flood). Needs wrk
# and nginx (the backend: `return 200` with a small page).
set -euo pipefail
cd "$(dirname "$0")/.."
MAMORI=${MAMORI:-build/release/mamori}
export MAMORI_RULES_DIR=${MAMORI_RULES_DIR:-$PWD/rules}
DURATION=${DURATION:-60}
BASE_DURATION=${BASE_DURATION:-10}
RATE=${RATE:-100}
BURST=${BURST:-100}
CONNS=${CONNS:-64}
GOOD_RPS=${GOOD_RPS:-20}
WORKERS=${WORKERS:-1}
RUN_DIR=${RUN_DIR:-/tmp/mamori-shield-flood}
NGINX=${NGINX:-/usr/sbin/nginx}
BACKEND=28193; FRONT=28194

command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)"; exit 2; }
[ -x "$NGINX" ] || { echo "nginx not installed (apt-get install nginx)"; exit 2; }
[ -x "$MAMORI" ] || { echo "$MAMORI not built"; exit 2; }

rm -rf "$RUN_DIR"; mkdir -p "$RUN_DIR"/{logs,tmp,state}
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    [ -s "$RUN_DIR/nginx.pid" ] && kill -QUIT "$(cat "$RUN_DIR/nginx.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

cat > "$RUN_DIR/backend.conf" <<CONF
worker_processes 1;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/logs/backend-error.log warn;
events { worker_connections 4096; }
http {
    log_format who '\$http_x_real_ip \$status';
    access_log $RUN_DIR/logs/backend-access.log who buffer=256k flush=1s;
    keepalive_requests 1000000;
    client_body_temp_path $RUN_DIR/tmp/b; proxy_temp_path $RUN_DIR/tmp/p;
    fastcgi_temp_path $RUN_DIR/tmp/f; uwsgi_temp_path $RUN_DIR/tmp/u; scgi_temp_path $RUN_DIR/tmp/s;
    server {
        listen 127.0.0.1:$BACKEND;
        location / { default_type text/html; return 200 '<!doctype html><title>ok</title><p>hello</p>'; }
    }
}
CONF
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/backend.conf" -e "$RUN_DIR/logs/backend-start.log"
"$MAMORI" run --listen 127.0.0.1:$FRONT --upstream 127.0.0.1:$BACKEND --no-crs \
    --rate-limit "${RATE}r/s,burst=${BURST}" --workers "$WORKERS" --state-dir "$RUN_DIR/state" \
    --allow-root 2>"$RUN_DIR/logs/mamori.log" &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$FRONT/" && break || true; sleep 0.1; done

# the well-behaved client: paced requests, latency of each
cat > "$RUN_DIR/good.py" <<'PY'
import http.client, socket, sys, time
port, rps, secs, out = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
c = conn()
lat, status = [], {}
t_end = time.monotonic() + secs
nxt = time.monotonic()
while time.monotonic() < t_end:
    t0 = time.perf_counter()
    try:
        c.request("GET", "/page?id=42", headers={"Host": "shop.example", "User-Agent": "good-client/1.0",
                                                "Accept": "text/html"})
        r = c.getresponse(); r.read()
        s = r.status
        if r.getheader("Connection", "").lower() == "close":
            c.close(); c = conn()
    except (OSError, http.client.HTTPException):
        s = 0; c.close(); c = conn()
    lat.append((time.perf_counter() - t0) * 1000)
    status[s] = status.get(s, 0) + 1
    nxt += 1.0 / rps
    d = nxt - time.monotonic()
    if d > 0:
        time.sleep(d)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]
with open(out, "w") as f:
    f.write("%d %.3f %.3f %.3f %s\n" % (len(lat), pct(50), pct(99), lat[-1],
            ",".join("%s:%d" % kv for kv in sorted(status.items()))))
PY

good() { python3 "$RUN_DIR/good.py" $FRONT "$GOOD_RPS" "$1" "$RUN_DIR/$2"; }
echo "baseline: good client alone for ${BASE_DURATION}s at ${GOOD_RPS} req/s ..."
good "$BASE_DURATION" good-base.txt
sleep 1.5 # let the flood address's bucket be full and the backend log flush
base_lines=$(wc -l < "$RUN_DIR/logs/backend-access.log")

echo "flood: wrk -t1 -c$CONNS from 127.0.0.1 for ${DURATION}s (limit ${RATE}r/s, burst ${BURST}) + good client ..."
good "$DURATION" good-flood.txt &
gpid=$!
wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "Accept: application/json" \
    "http://127.0.0.1:$FRONT/api/items" > "$RUN_DIR/logs/wrk.txt" 2>&1 || true
wait "$gpid"
sleep 2 # backend access log flush

total=$(awk '/requests in/ {print $1}' "$RUN_DIR/logs/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$RUN_DIR/logs/wrk.txt"); non2xx=${non2xx:-0}
flood_rps=$(awk '/Requests\/sec/ {print $2}' "$RUN_DIR/logs/wrk.txt")
allowed=$(tail -n +"$((base_lines + 1))" "$RUN_DIR/logs/backend-access.log" | awk '$1=="127.0.0.1"' | wc -l)
good_fwd=$(tail -n +"$((base_lines + 1))" "$RUN_DIR/logs/backend-access.log" | awk '$1=="127.0.0.2"' | wc -l)
read -r bn bp50 bp99 bmax bst < "$RUN_DIR/good-base.txt"
read -r fn fp50 fp99 fmax fst < "$RUN_DIR/good-flood.txt"
events=$(grep -c '"rate_limited"' "$RUN_DIR/state/events.json" || true)

echo
echo "== flood client (127.0.0.1, wrk -c$CONNS, ${DURATION}s)"
printf "  answered:        %s requests (%s req/s)\n" "$total" "$flood_rps"
printf "  429 (non-2xx):   %s\n" "$non2xx"
printf "  allowed:         %s = %s req/s (configured %s r/s + burst %s = %s expected at most)\n" \
    "$allowed" "$(awk -v a="$allowed" -v d="$DURATION" 'BEGIN{printf "%.1f", a/d}')" "$RATE" "$BURST" \
    "$(awk -v r="$RATE" -v b="$BURST" -v d="$DURATION" 'BEGIN{printf "%.0f", r*d+b}')"
printf "  wrk latency:     p50 %s  p99 %s\n" "$(awk '$1=="50%" {print $2}' "$RUN_DIR/logs/wrk.txt")" \
    "$(awk '$1=="99%" {print $2}' "$RUN_DIR/logs/wrk.txt")"
printf "  rate_limited events written: %s (at most one per address and second per worker)\n" "$events"
echo "== good client (127.0.0.2, ${GOOD_RPS} req/s)"
printf "  alone:       %5s requests  p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  status %s\n" "$bn" "$bp50" "$bp99" "$bmax" "$bst"
printf "  with flood:  %5s requests  p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  status %s\n" "$fn" "$fp50" "$fp99" "$fmax" "$fst"
printf "  forwarded to the backend during the flood: %s\n" "$good_fwd"
