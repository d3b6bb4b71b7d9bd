#!/usr/bin/env bash
# Listing a 1,000,000-object bucket page by page over REST: GET /v1/buckets/B with
# {"action":"list","value":{"pagesize":10000,"continuation_token":...}} until the token is empty,
# from one keep-alive client. The bucket is populated in-process through the engine first
# (populate.py), which also lists it in-process as the reference. Target: >= 100,000 entries/s.
#
# Populating takes 10+ minutes and removing a million files again several more, so
# BENCH_LIST_DATA=DIR keeps the populated data dir there (not removed) and reuses it next time.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${BENCH_LIST_OBJECTS:-1000000}
echo "list_1m: listing $N objects over REST, 10,000 per page (median of $RUNS full listings)"
DATA=${BENCH_LIST_DATA:-$WORK/data}
log "populating $N objects in-process in $DATA (engine.put_object, fsync off while populating)"
ref=$(cd "$ROOT" && "$PY" "$ROOT/scripts/bench/populate.py" "$DATA" bench "$N")
start_server "$DATA"

# One full listing; prints entries/s, fails unless it saw exactly N entries in order. The time
# includes the client's own work (json.loads and the order check, ~ what any client does); its
# share is reported on stderr so the server's part can be told apart.
list_once() { "$PY" "$ROOT/scripts/bench/listing_client.py" rest "$PORT" bench "$N"; }

srv=()
for ((i = 0; i < RUNS; i++)); do
    srv+=("$(list_once)")
    log "run $((i + 1)): ${srv[-1]} entries/s over REST"
done
result "List $(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$N") objects (REST, 10k/page)" "$(printf '%s\n' "${srv[@]}" | median)" entries/s \
    "$ref" "in-process engine.list_objects" - 100000
