#!/bin/bash
# Full-stack proxy benchmark with wrk on loopback, all in one run:
#   (a) nginx proxying to a fast backend (no WAF)
#   (b) nginx + ModSecurity v3 (Debian's libmodsecurity3 + connector) + CRS v4 PL1
#   (c) mamori run --no-crs --no-managed-rules (the engine base only)
#   (d) mamori run --crs CRS --paranoia 1 --no-managed-rules (CRS v4 PL1: the same rules as (b))
# Every front runs ONE worker; all proxy to the same backend (nginx, 1
# worker, `return 200` with a 174-byte HTML page). Two requests, as in
# /work/shared/peers/modsec-bench: a GET with browser headers and a 2 KB
# urlencoded POST. Reports req/s, p50 and p99 latency, and the ratios.
#
#   DURATION=10 CONNS=32 ROUNDS=1 CRS=/work/shared/crs MAMORI=build/release/mamori bench/proxy-bench.sh
#
# Writes only under $RUN_DIR (default /tmp/mamori-proxy-bench). Needs nginx,
# libnginx-mod-http-modsecurity and wrk (apt-get install nginx
# libnginx-mod-http-modsecurity wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
MAMORI=${MAMORI:-build/release/mamori}
export MAMORI_RULES_DIR=${MAMORI_RULES_DIR:-$PWD/rules}
CRS=${CRS:-/work/shared/crs}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-1}
RUN_DIR=${RUN_DIR:-/tmp/mamori-proxy-bench}
NGINX=${NGINX:-/usr/sbin/nginx}
BACKEND=28183; NGX_PROXY=28181; NGX_MODSEC=28182; M_NORULES=28184; M_CRS=28185

command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)"; exit 2; }
[ -x "$NGINX" ] || { echo "nginx not installed (apt-get install nginx libnginx-mod-http-modsecurity)"; exit 2; }
[ -x "$MAMORI" ] || { echo "$MAMORI not built"; exit 2; }
MODSEC_SO=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
[ -f "$MODSEC_SO" ] || { echo "ModSecurity connector missing (apt-get install libnginx-mod-http-modsecurity)"; exit 2; }

rm -rf "$RUN_DIR"; mkdir -p "$RUN_DIR"/{logs,tmp,modsec,state-a,state-b}
chmod 1777 "$RUN_DIR/tmp"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for f in "$RUN_DIR"/nginx-*.pid; do [ -s "$f" ] && kill -QUIT "$(cat "$f")" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# ---- ModSecurity + CRS v4 PL1 (the usual production settings, engine on)
cat > "$RUN_DIR/modsec/base.conf" <<CONF
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000
SecPcreMatchLimit 1000
SecPcreMatchLimitRecursion 1000
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml
SecResponseBodyLimit 524288
SecResponseBodyLimitAction ProcessPartial
SecTmpDir $RUN_DIR/tmp
SecDataDir $RUN_DIR/tmp
SecAuditEngine RelevantOnly
SecAuditLogParts ABIJDEFHZ
SecAuditLogType Serial
SecAuditLog $RUN_DIR/logs/modsec_audit.log
SecArgumentSeparator &
SecCookieFormat 0
SecUnicodeMapFile /etc/nginx/unicode.mapping 20127
SecStatusEngine Off
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.'"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,t:none,log,deny,status:400,msg:'Multipart strict error'"
CONF
cat > "$RUN_DIR/modsec/crs4-pl1.conf" <<CONF
Include $RUN_DIR/modsec/base.conf
Include $CRS/crs-setup.conf.example
SecAction "id:900000,phase:1,pass,nolog,t:none,setvar:tx.blocking_paranoia_level=1"
Include $CRS/rules/*.conf
CONF

PAGE='<!doctype html><html><head><title>bench</title></head><body><h1>hello</h1><p>A small page from the fast backend used by the proxy benchmark.</p></body></html>'
cat > "$RUN_DIR/nginx.conf" <<CONF
load_module $MODSEC_SO;
worker_processes 1;
pid $RUN_DIR/nginx-front.pid;
error_log $RUN_DIR/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    client_body_temp_path $RUN_DIR/tmp/body;
    proxy_temp_path $RUN_DIR/tmp/proxy;
    fastcgi_temp_path $RUN_DIR/tmp/fcgi; uwsgi_temp_path $RUN_DIR/tmp/uwsgi; scgi_temp_path $RUN_DIR/tmp/scgi;
    keepalive_requests 100000;
    upstream backend { server 127.0.0.1:$BACKEND; keepalive 64; }
    server {
        listen 127.0.0.1:$NGX_PROXY;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server {
        listen 127.0.0.1:$NGX_MODSEC;
        modsecurity on;
        modsecurity_rules_file $RUN_DIR/modsec/crs4-pl1.conf;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
cat > "$RUN_DIR/backend.conf" <<CONF
worker_processes 1;
pid $RUN_DIR/nginx-backend.pid;
error_log $RUN_DIR/logs/backend-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path $RUN_DIR/tmp/bbody;
    proxy_temp_path $RUN_DIR/tmp/bproxy;
    fastcgi_temp_path $RUN_DIR/tmp/bfcgi; uwsgi_temp_path $RUN_DIR/tmp/buwsgi; scgi_temp_path $RUN_DIR/tmp/bscgi;
    server {
        listen 127.0.0.1:$BACKEND;
        location / { default_type text/html; return 200 '$PAGE'; }
    }
}
CONF

# ---- wrk requests: GET with browser headers, 2 KB urlencoded POST
python3 - "$RUN_DIR" <<'PY'
import sys
d = sys.argv[1]
hdrs = {
    "Host": "shop.example.com",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Accept-Language": "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
    "Accept-Encoding": "gzip, deflate, br",
    "Cookie": "_ga=GA1.2.1234567890.1700000000; sessionid=abcdef0123456789; csrftoken=Zx81Kq",
    "Upgrade-Insecure-Requests": "1",
    "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "same-origin",
}
def lua_table(h):
    return "{" + ", ".join('["%s"] = "%s"' % (k, v.replace('"', '\\"')) for k, v in h.items()) + "}"
words = "the quick brown fox jumps over the lazy dog while our new running shoes arrive soon".split()
fields = ["name=Jane+Doe", "email=jane.doe%40example.com", "subject=Order+question"]
msg = []
i = 0
while len("&".join(fields + ["message=" + "+".join(msg)])) < 2048:
    msg.append(words[i % len(words)]); i += 1
body = "&".join(fields + ["message=" + "+".join(msg)])[:2048]
open(d + "/get.lua", "w").write(
    'wrk.method = "GET"\nwrk.path = "/c/kids-shoes?page=2&sort=price&color=blue"\nwrk.headers = %s\n' % lua_table(hdrs))
ph = dict(hdrs); ph["Content-Type"] = "application/x-www-form-urlencoded"
open(d + "/post.lua", "w").write(
    'wrk.method = "POST"\nwrk.path = "/contact"\nwrk.headers = %s\nwrk.body = "%s"\n' % (lua_table(ph), body))
PY

"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/backend.conf" -e "$RUN_DIR/logs/backend-start.log"
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/logs/front-start.log"
"$MAMORI" run --listen 127.0.0.1:$M_NORULES --upstream 127.0.0.1:$BACKEND --no-crs --no-managed-rules --workers 1 \
    --state-dir "$RUN_DIR/state-a" --allow-root 2>"$RUN_DIR/logs/mamori-norules.log" &
pids+=($!)
"$MAMORI" run --listen 127.0.0.1:$M_CRS --upstream 127.0.0.1:$BACKEND --crs "$CRS" --paranoia 1 --no-managed-rules \
    --workers 1 --state-dir "$RUN_DIR/state-b" --allow-root 2>"$RUN_DIR/logs/mamori-crs.log" &
pids+=($!)
for port in $BACKEND $NGX_PROXY $NGX_MODSEC $M_NORULES $M_CRS; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break || true; sleep 0.1; done
done
# sanity: each front answers 200 to both requests, and both WAFs block an attack
for port in $NGX_PROXY $NGX_MODSEC $M_NORULES $M_CRS; do
    c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/c/kids-shoes?page=2" || true)
    [ "$c" = 200 ] || { echo "port $port answers $c to the GET"; tail -n 5 "$RUN_DIR"/logs/*.log; exit 1; }
done
for port in $NGX_MODSEC $M_CRS; do
    c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/?id=1%27%20union%20select%20pw%20from%20users--" || true)
    [ "$c" = 403 ] || { echo "port $port does not block SQLi ($c)"; exit 1; }
done

declare -A RPS P50 P99 CPU PIDOF
# CPU time per request of the front process: less noisy than req/s on a
# small shared machine (wrk, the front and the backend share the CPUs)
front_worker=$(pgrep -P "$(cat "$RUN_DIR/nginx-front.pid")" | head -n 1)
PIDOF[nginx]=$front_worker; PIDOF[nginx+modsec]=$front_worker
PIDOF[mamori-norules]=${pids[0]}; PIDOF[mamori+crs]=${pids[1]}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
to_ms() { # wrk latency like 512.00us / 1.20ms / 1.5s -> ms
    awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} else print v }'
}
run_wrk() { # name port script
    local out t0 t1 n cpu
    t0=$(cpu_ticks "${PIDOF[$1]}")
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$RUN_DIR/$3.lua" "http://127.0.0.1:$2" > "$RUN_DIR/logs/wrk-$1-$3.txt" 2>&1 || true
    out="$RUN_DIR/logs/wrk-$1-$3.txt"
    t1=$(cpu_ticks "${PIDOF[$1]}")
    n=$(awk '/requests in/ {print $1}' "$out")
    cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN{ if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print 0 }')
    CPU[$1-$3]=$(awk -v a="${CPU[$1-$3]:-0}" -v b="$cpu" -v r="$ROUNDS" 'BEGIN{print a + b / r}')
    local rps p50 p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' "$out")
    p50=$(to_ms "$(awk '$1=="50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1=="99%" {print $2}' "$out")")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$out")
    RPS[$1-$3]=$(awk -v a="${RPS[$1-$3]:-0}" -v b="$rps" -v r="$ROUNDS" 'BEGIN{print a + b / r}')
    P50[$1-$3]=$p50; P99[$1-$3]=$p99
    printf '  %-16s %-5s %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms   %6.1f us CPU/req%s\n' "$1" "$3" "$rps" "$p50" "$p99" \
        "$cpu" "${non2xx:+   (non-2xx: $non2xx)}"
}
echo "wrk -t1 -c$CONNS -d${DURATION}s on $(nproc) CPUs; every front 1 worker; backend nginx (1 worker)"
for r in $(seq "$ROUNDS"); do
    echo "round $r"
    for req in get post; do
        run_wrk nginx $NGX_PROXY $req
        run_wrk nginx+modsec $NGX_MODSEC $req
        run_wrk mamori-norules $M_NORULES $req
        run_wrk mamori+crs $M_CRS $req
    done
done
echo
echo "| request | nginx | nginx+ModSecurity+CRS4 PL1 | mamori --no-crs | mamori + CRS4 PL1 | mamori-norules / nginx | mamori+CRS / nginx+ModSecurity |"
echo "|---|---|---|---|---|---|---|"
for req in get post; do
    a=${RPS[nginx-$req]}; b=${RPS[nginx+modsec-$req]}; c=${RPS[mamori-norules-$req]}; d=${RPS[mamori+crs-$req]}
    awk -v q="$req" -v a="$a" -v b="$b" -v c="$c" -v d="$d" \
        'BEGIN{printf "| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.1fx |\n", q, a, b, c, d, c/a, d/b}'
done
echo
echo "CPU time of the front process per request (microseconds, mean of rounds):"
echo "| request | nginx | nginx+ModSecurity+CRS4 PL1 | mamori --no-crs | mamori + CRS4 PL1 | nginx / mamori-norules | nginx+ModSecurity / mamori+CRS |"
echo "|---|---|---|---|---|---|---|"
for req in get post; do
    a=${CPU[nginx-$req]}; b=${CPU[nginx+modsec-$req]}; c=${CPU[mamori-norules-$req]}; d=${CPU[mamori+crs-$req]}
    awk -v q="$req" -v a="$a" -v b="$b" -v c="$c" -v d="$d" \
        'BEGIN{printf "| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.1fx |\n", q, a, b, c, d, a/c, b/d}'
done
echo
echo "raw wrk output: $RUN_DIR/logs/wrk-*.txt"
