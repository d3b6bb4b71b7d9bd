#!/usr/bin/env bash
# S3 ListObjectsV2 over a 1,000,000-object bucket: GET /bench?list-type=2&max-keys=1000, following
# NextContinuationToken, from one keep-alive client (http.client; each page's <Key> elements and
# token are picked out with regular expressions, see listing_client.py), anonymously (loopback, no keys).
# Target: >= 50,000 keys/s (absolute). Reference, for context: the same 1,000-entry pages listed
# in-process with engine.list_objects (populate.py).
#
# The bucket is the one list_1m.sh lists (populate.py, bucket `bench`, the same keys), so with the
# same BENCH_LIST_DATA=DIR the million objects are built once for both benchmarks.
#
# moto cannot reasonably hold a million objects, so for context only both servers also list a
# smaller bucket of the same keys (BENCH_S3_MOTO_LIST_OBJECTS, default 10,000): moto's filled by
# anonymous PutObject (public-read bucket), aisfs's by populate.py in the same data dir.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${BENCH_LIST_OBJECTS:-1000000}
M=${BENCH_S3_MOTO_LIST_OBJECTS:-10000}
HELPERS="$ROOT/scripts/bench/s3_helpers.py"
commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }

echo "s3_list_1m: ListObjectsV2 of $(commas "$N") objects, 1,000 per page (median of $RUNS full listings);" \
    "aisfs vs moto on $(commas "$M") objects for context"
DATA=${BENCH_LIST_DATA:-$WORK/data}
log "populating $N objects in-process in $DATA (engine.put_object, fsync off while populating)"
ref=$(cd "$ROOT" && "$PY" "$ROOT/scripts/bench/populate.py" "$DATA" bench "$N" 1000)
CTX=ctx-$M
(cd "$ROOT" && "$PY" "$ROOT/scripts/bench/populate.py" "$DATA" "$CTX" "$M" 1000) >/dev/null
start_server "$DATA"
start_moto
log "filling moto's bucket $CTX with $M objects (anonymous PutObject)"
curl -fsS -o /dev/null -X PUT -H 'x-amz-acl: public-read' "$MOTO_URL/$CTX"
"$PY" "$HELPERS" fill "$MOTO_PORT" "$CTX" "$M"

list_once() { "$PY" "$ROOT/scripts/bench/listing_client.py" s3 "$1" "$2" "$3"; }

srv=()
for ((i = 0; i < RUNS; i++)); do
    srv+=("$(list_once "$PORT" bench "$N")")
    log "run $((i + 1)): ${srv[-1]} keys/s"
done
# Context: the small bucket on both, alternating, after one warm-up each.
list_once "$PORT" "$CTX" "$M" >/dev/null
list_once "$MOTO_PORT" "$CTX" "$M" >/dev/null
small=() moto=()
for ((i = 0; i < RUNS; i++)); do
    small+=("$(list_once "$PORT" "$CTX" "$M")")
    moto+=("$(list_once "$MOTO_PORT" "$CTX" "$M")")
    log "context run $((i + 1)), $(commas "$M") keys: aisfs ${small[-1]} keys/s, moto ${moto[-1]} keys/s"
done
result "S3 ListObjectsV2, $(commas "$N") objects (1000/page)" "$(printf '%s\n' "${srv[@]}" | median)" keys/s \
    "$ref" "in-process engine.list_objects, 1000/page" - 50000
context "S3 ListObjectsV2, $(commas "$M") objects (1000/page), vs moto" "$(printf '%s\n' "${small[@]}" | median)" keys/s \
    "$(printf '%s\n' "${moto[@]}" | median)" "moto, same keys"
