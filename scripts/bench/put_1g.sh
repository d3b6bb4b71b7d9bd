#!/usr/bin/env bash
# PUT of a 1 GiB object (curl -T over loopback) vs `dd` writing the same 1 GiB to the same disk.
# Our PUT fsyncs the data file before answering (write_policy.fsync, on by default), so dd runs
# with conv=fsync to pay the same. Both read the same source file from page cache.
# Target: ratio >= 0.5.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=$((1 << 30))
echo "put_1g: 1 GiB PUT over loopback vs dd conv=fsync to the same disk (median of $RUNS runs each)"
head -c "$SIZE" /dev/urandom >"$WORK/src"
start_server "$WORK/data"
create_bucket bench
fsync=$(curl -fsS "$URL/v1/daemon?what=config" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["write_policy"]["fsync"])')
log "server write_policy.fsync = $fsync; data dir and dd output both in $WORK ($(df --output=source,fstype "$WORK" | tail -1))"

put_once() { curl -fsS -o /dev/null -T "$WORK/src" "$URL/v1/objects/bench/big/put-$1.bin"; }
dd_once() { dd if="$WORK/src" of="$WORK/dd.out" bs=1M conv=fsync status=none; }

# One of each to warm up; then alternate, removing the previous copy so the disk stays the same.
put_once warm
curl -fsS -o /dev/null -X DELETE "$URL/v1/objects/bench/big/put-warm.bin"
dd_once
rm -f "$WORK/dd.out"
srv=() ref=()
for ((i = 0; i < RUNS; i++)); do
    t=$(timed put_once "$i"); srv+=("$(gbps $SIZE "$t")")
    curl -fsS -o /dev/null -X DELETE "$URL/v1/objects/bench/big/put-$i.bin"
    t=$(timed dd_once); ref+=("$(gbps $SIZE "$t")")
    rm -f "$WORK/dd.out"
    log "run $((i + 1)): aisfs PUT ${srv[-1]} GB/s, dd conv=fsync ${ref[-1]} GB/s"
done
result "PUT 1 GiB (curl -T, loopback)" "$(printf '%s\n' "${srv[@]}" | median)" GB/s \
    "$(printf '%s\n' "${ref[@]}" | median)" "dd bs=1M conv=fsync, same disk" 0.5
