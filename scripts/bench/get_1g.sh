#!/usr/bin/env bash
# GET of a 1 GiB object over loopback (curl to /dev/null, /v1/objects/...) vs `dd` reading the
# object's own data file (found through the engine's index) to /dev/null. Warm: both read page cache
# (the object was just written and the machine has RAM to spare), so this compares the server's
# per-byte path against the kernel's memory copy. Cold (as root): caches dropped before every run,
# so both read the disk, as s3_big.sh does for the S3 face. Target: ratio >= 0.5.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=$((1 << 30))
echo "get_1g: 1 GiB GET over loopback vs dd of the data file (median of $RUNS runs each)"
head -c "$SIZE" /dev/urandom >"$WORK/src"
start_server "$WORK/data"
create_bucket bench
curl -fsS -o /dev/null -T "$WORK/src" "$URL/v1/objects/bench/big/1g.bin"

DATA_FILE=$(sized_data_file "$WORK/data" big/1g.bin "$SIZE")
log "data file: $DATA_FILE"

get_once() { get_checked "$URL/v1/objects/bench/big/1g.bin" "$SIZE"; }

# Context, not the reference: nginx serving the same data file (a hard link) to the same curl
# shows how much of the gap is the client and loopback rather than aisfs.
mkdir -p "$WORK/www"
ln "$DATA_FILE" "$WORK/www/1g.bin"
start_nginx "$WORK/www"
nginx_once() { curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/1g.bin"; }

# Warm each once, then alternate so no side gets a quieter moment.
get_once
dd if="$DATA_FILE" of=/dev/null bs=1M status=none
nginx_once
srv=() ref=() ngx=()
for ((i = 0; i < RUNS; i++)); do
    t=$(timed get_once); srv+=("$(gbps $SIZE "$t")")
    t=$(timed dd if="$DATA_FILE" of=/dev/null bs=1M status=none); ref+=("$(gbps $SIZE "$t")")
    t=$(timed nginx_once); ngx+=("$(gbps $SIZE "$t")")
    log "run $((i + 1)): aisfs GET ${srv[-1]} GB/s, dd ${ref[-1]} GB/s (nginx + curl: ${ngx[-1]} GB/s)"
done
ngx_med=$(printf '%s\n' "${ngx[@]}" | median)
srv_med=$(printf '%s\n' "${srv[@]}" | median)
log "context: nginx serving the same file to curl: $ngx_med GB/s (aisfs/nginx $(awk -v a="$srv_med" -v b="$ngx_med" 'BEGIN { printf "%.2f", a / b }'))"
result "GET 1 GiB (curl, loopback), warm" "$srv_med" GB/s \
    "$(printf '%s\n' "${ref[@]}" | median)" "dd of the data file, bs=1M, page cache" 0.5

if drop_caches; then
    csrv=() cref=()
    for ((i = 0; i < RUNS; i++)); do
        drop_caches
        t=$(timed get_once); csrv+=("$(gbps $SIZE "$t")")
        drop_caches
        t=$(timed dd if="$DATA_FILE" of=/dev/null bs=1M status=none); cref+=("$(gbps $SIZE "$t")")
        log "cold run $((i + 1)): aisfs GET ${csrv[-1]} GB/s, dd ${cref[-1]} GB/s"
    done
    result "GET 1 GiB (curl, loopback), cold" "$(printf '%s\n' "${csrv[@]}" | median)" GB/s \
        "$(printf '%s\n' "${cref[@]}" | median)" "dd of the data file, bs=1M, caches dropped" 0.5
else
    unavailable "GET 1 GiB (curl, loopback), cold" "/proc/sys/vm/drop_caches is not writable here"
fi
