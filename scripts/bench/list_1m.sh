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
list_once() {
    "$PY" - "$PORT" "$N" <<'PY'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
count, token, last, client = 0, "", "", 0.0
t0 = time.monotonic()
while True:
    body = json.dumps({"action": "list", "value": {"pagesize": 10000, "continuation_token": token}})
    conn.request("GET", "/v1/buckets/bench", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        sys.exit(f"list failed: {resp.status} {data[:300]!r}")
    c0 = time.monotonic()
    page = json.loads(data)
    for e in page["entries"]:
        if e["name"] <= last:
            sys.exit(f"out of order: {e['name']!r} after {last!r}")
        last = e["name"]
    client += time.monotonic() - c0
    count += len(page["entries"])
    token = page["continuation_token"]
    if not token:
        break
el = time.monotonic() - t0
if count != n:
    sys.exit(f"listed {count} entries, want {n}")
print(f"  client-side parsing and checks: {client:.2f} s of {el:.2f} s", file=sys.stderr)
print(f"{count / el:.0f}")
PY
}

srv=()
for ((i = 0; i < RUNS; i++)); do
    srv+=("$(list_once)")
    log "run $((i + 1)): ${srv[-1]} entries/s over REST"
done
result "List $(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$N") objects (REST, 10k/page)" "$(printf '%s\n' "${srv[@]}" | median)" entries/s \
    "$ref" "in-process engine.list_objects" - 100000
