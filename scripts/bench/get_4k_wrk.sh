#!/usr/bin/env bash
# 4 KiB object GETs with wrk (2 threads, 16 keep-alive connections) against aisfs, vs Debian's
# nginx serving the same 4 KiB file from a temp config on another loopback port (started here,
# stopped by PID at the end). Target: ratio >= 0.15.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_4k
echo "get_4k_wrk: 4 KiB GETs, wrk -t2 -c16 -d${DURATION}s, aisfs (--workers $WORKERS) vs nginx (median of $RUNS runs each)"

start_server "$WORK/data"
create_bucket bench
curl -fsS -o /dev/null -T "$WORK/www/obj4k" "$URL/v1/objects/bench/small/obj4k"

start_nginx "$WORK/www"
# Same bytes from both.
cmp -s <(curl -fsS "$URL/v1/objects/bench/small/obj4k") <(curl -fsS "http://127.0.0.1:$NGINX_PORT/obj4k") ||
    die "aisfs and nginx do not serve the same 4 KiB"

# A short warm-up for each, then alternate.
wrk_rps "$URL/v1/objects/bench/small/obj4k" 2 >/dev/null
wrk_rps "http://127.0.0.1:$NGINX_PORT/obj4k" 2 >/dev/null
srv=() ref=() cpu=()
for ((i = 0; i < RUNS; i++)); do
    c0=$(cpu_seconds "$SERVER_PID")
    srv+=("$(wrk_rps "$URL/v1/objects/bench/small/obj4k" "$DURATION")")
    # the server's CPU per request moves less with the machine's other load than req/s does
    cpu+=("$(awk -v a="$c0" -v b="$(cpu_seconds "$SERVER_PID")" -v r="${srv[-1]}" -v d="$DURATION" \
        'BEGIN { printf "%.0f", (b - a) / (r * d) * 1e6 }')")
    ref+=("$(wrk_rps "http://127.0.0.1:$NGINX_PORT/obj4k" "$DURATION")")
    log "run $((i + 1)): aisfs ${srv[-1]} req/s (server CPU ${cpu[-1]} us per request), nginx ${ref[-1]} req/s"
done
log "aisfs server CPU per request: median $(printf '%s\n' "${cpu[@]}" | median) us"
result "GET 4 KiB (wrk -t2 -c16)" "$(printf '%s\n' "${srv[@]}" | median)" req/s \
    "$(printf '%s\n' "${ref[@]}" | median)" "nginx, same file" 0.15
