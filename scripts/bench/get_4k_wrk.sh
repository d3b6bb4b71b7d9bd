#!/usr/bin/env bash
# 4 KiB object GETs with wrk (2 threads, 16 keep-alive connections) against aisfs, vs Debian's
# nginx serving the same 4 KiB file from a temp config on another loopback port (started here,
# stopped by PID at the end). Target: ratio >= 0.15.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${BENCH_WRK_SECONDS:-10}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$NGINX" ]] || die "nginx not found (bash scripts/setup.sh bench)"
command -v wrk >/dev/null || die "wrk not found (bash scripts/setup.sh bench)"

echo "get_4k_wrk: 4 KiB GETs, wrk -t2 -c16 -d${DURATION}s, aisfs vs nginx (median of $RUNS runs each)"
mkdir -p "$WORK/www"
head -c 4096 /dev/urandom >"$WORK/www/obj4k"
# nginx's workers drop to nobody when started as root; let them read the file.
chmod 755 "$WORK" "$WORK/www"

start_server "$WORK/data"
create_bucket bench
curl -fsS -o /dev/null -T "$WORK/www/obj4k" "$URL/v1/objects/bench/small/obj4k"

# nginx as Debian configures it (sendfile, tcp_nopush, 2 workers here), with no access log since
# aisfs writes none either; temp paths and pid in our work dir so nothing system-wide is touched.
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
    }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>>"$WORK/nginx/logs/error.log" &
NGINX_PID=$!
for ((i = 0; i < 100; i++)); do
    curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/obj4k" 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/logs/error.log" >&2; die "nginx exited"; }
    sleep 0.1
done
# Same bytes from both.
cmp -s <(curl -fsS "$URL/v1/objects/bench/small/obj4k") <(curl -fsS "http://127.0.0.1:$NGINX_PORT/obj4k") ||
    die "aisfs and nginx do not serve the same 4 KiB"

# wrk_rps URL SECONDS: requests/s, failing on any error or non-2xx answer.
wrk_rps() {
    local out
    out=$(wrk -t2 -c16 -d"$2"s "$1")
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        echo "$out" >&2
        die "wrk saw errors against $1"
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

# A short warm-up for each, then alternate.
wrk_rps "$URL/v1/objects/bench/small/obj4k" 2 >/dev/null
wrk_rps "http://127.0.0.1:$NGINX_PORT/obj4k" 2 >/dev/null
srv=() ref=()
for ((i = 0; i < RUNS; i++)); do
    srv+=("$(wrk_rps "$URL/v1/objects/bench/small/obj4k" "$DURATION")")
    ref+=("$(wrk_rps "http://127.0.0.1:$NGINX_PORT/obj4k" "$DURATION")")
    log "run $((i + 1)): aisfs ${srv[-1]} req/s, nginx ${ref[-1]} req/s"
done
result "GET 4 KiB (wrk -t2 -c16)" "$(printf '%s\n' "${srv[@]}" | median)" req/s \
    "$(printf '%s\n' "${ref[@]}" | median)" "nginx, same file" 0.15
