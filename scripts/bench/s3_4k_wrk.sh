#!/usr/bin/env bash
# 4 KiB S3 GetObject rate with wrk (2 threads, 16 keep-alive connections) on an anonymous S3 URL,
# http://127.0.0.1:PORT/bench/small/obj4k (aisfs on loopback without keys takes it anonymously),
# vs Debian's nginx serving the same 4 KiB file (lib.sh's start_nginx, as get_4k_wrk.sh).
# Target: ratio >= 0.15. For context, also moto's S3 server on the same URL shape (object uploaded
# to moto with x-amz-acl: public-read, so moto serves it anonymously).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_4k
echo "s3_4k_wrk: 4 KiB S3 GETs, wrk -t2 -c16 -d${DURATION}s, aisfs (--workers $WORKERS) vs nginx, and moto for context (median of $RUNS runs each)"

start_server "$WORK/data"
start_moto
start_nginx "$WORK/www"
for ep in "$URL" "$MOTO_URL"; do
    curl -fsS -o /dev/null -X PUT "$ep/bench"
done
# aisfs keeps objects private and refuses public ACLs (docs/s3.md): on loopback without keys it
# serves them anonymously anyway. moto needs the ACL to serve an unsigned GET.
curl -fsS -o /dev/null -T "$WORK/www/obj4k" "$URL/bench/small/obj4k"
curl -fsS -o /dev/null -T "$WORK/www/obj4k" -H 'x-amz-acl: public-read' "$MOTO_URL/bench/small/obj4k"
AIS="$URL/bench/small/obj4k"
NGX="http://127.0.0.1:$NGINX_PORT/obj4k"
MOTO="$MOTO_URL/bench/small/obj4k"
# Same bytes from all three, anonymously.
for u in "$AIS" "$NGX" "$MOTO"; do
    curl -fsS "$u" | cmp -s - "$WORK/www/obj4k" || die "$u does not serve the 4 KiB file"
done

# A short warm-up for each, then alternate.
for u in "$AIS" "$NGX" "$MOTO"; do wrk_rps "$u" 2 >/dev/null; done
srv=() ref=() moto=()
for ((i = 0; i < RUNS; i++)); do
    srv+=("$(wrk_rps "$AIS" "$DURATION")")
    ref+=("$(wrk_rps "$NGX" "$DURATION")")
    moto+=("$(wrk_rps "$MOTO" "$DURATION")")
    log "run $((i + 1)): aisfs ${srv[-1]} req/s, nginx ${ref[-1]} req/s, moto ${moto[-1]} req/s"
done
srv_med=$(printf '%s\n' "${srv[@]}" | median)
result "S3 GET 4 KiB, anonymous URL (wrk -t2 -c16)" "$srv_med" req/s \
    "$(printf '%s\n' "${ref[@]}" | median)" "nginx, same file" 0.15
context "S3 GET 4 KiB, anonymous URL (wrk -t2 -c16), vs moto" "$srv_med" req/s \
    "$(printf '%s\n' "${moto[@]}" | median)" "moto, same URL shape"
