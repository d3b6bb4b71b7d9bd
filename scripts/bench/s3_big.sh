#!/usr/bin/env bash
# S3 GetObject and PutObject of one 1 GiB object over loopback, aisfs vs moto's S3 server in the
# same run, with two clients: awscli (`aws s3 cp`, its defaults: 8 MiB parts, 10 concurrent
# requests) and curl on presigned URLs (GET presigned by `aws s3 presign`, PUT by boto3's
# generate_presigned_url('put_object'), curl -T). Both servers are addressed path-style at the
# root (http://127.0.0.1:PORT/bench/big/...) with dummy credentials: aisfs on loopback without
# keys takes S3 requests anonymously, moto checks no signatures.
#
# Targets: aisfs >= 5x moto for each of the four (GET/PUT x awscli/curl); aisfs GET >= 0.5 of
# `dd if=DATA_FILE of=/dev/null bs=1M`, DATA_FILE being the object's own data file (found through
# index.db, as get_1g.sh does). The dd reference is measured twice, each with its own ratio:
# warm (page cache, as get_1g.sh) and cold (`sync; echo 3 > /proc/sys/vm/drop_caches` before
# each aisfs GET and each dd; reported as unavailable where that file is not writable).
#
# Ceilings, measured in the same run (context rows, no target): each client against s3_sink.py, a
# server that does no work of its own (GET: sendfile of the source file from the page cache; PUT:
# the body read and thrown away), and MD5 of the object on one core (what a PUT into an md5 bucket
# must hash). A ceiling over moto's figure is the most any server could reach with that client here:
# where it is under a target's ratio, the target is out of reach on this machine, whatever aisfs does.
#
# BENCH_S3_SIZE_MB (default 1024) sets the object size, e.g. 64 for a quick check of the script.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE_MB=${BENCH_S3_SIZE_MB:-1024}
SIZE=$((SIZE_MB << 20))
if ((SIZE_MB % 1024 == 0)); then LABEL="$((SIZE_MB / 1024)) GiB"; else LABEL="$SIZE_MB MiB"; fi
HELPERS="$ROOT/scripts/bench/s3_helpers.py"

echo "s3_big: $LABEL S3 GET/PUT over loopback, aisfs vs moto, aws s3 cp and curl on presigned URLs;" \
    "aisfs GET vs dd of its data file, warm and cold (median of $RUNS runs each)"
head -c "$SIZE" /dev/urandom >"$WORK/src"
start_server "$WORK/data"
start_moto
start_sink "$WORK/src"
aws_env
log "aisfs $URL, moto $MOTO_URL ($("$PY" -c 'import moto; print("moto", moto.__version__)'), $("$AWS" --version 2>&1))"

declare -A EP=([aisfs]=$URL [moto]=$MOTO_URL [sink]=$SINK_URL) GET_URL PUT_URL PUTGET_URL HEAD_URL DEL_URL R
SIDES=(aisfs moto)
GET_URL[sink]="$SINK_URL/bench/big/get.bin"
PUT_URL[sink]="$SINK_URL/bench/big/put.bin"

# Per server: bucket `bench`, the object big/get.bin (uploaded with curl -T on a presigned PUT URL),
# the presigned GET URL of it, and presigned PUT/GET/HEAD/DELETE URLs for big/put.bin.
for side in "${SIDES[@]}"; do
    ep=${EP[$side]}
    curl -fsS -o /dev/null -X PUT "$ep/bench"
    urls=$("$PY" "$HELPERS" presign "$ep" bench big/get.bin)
    curl -fsS -o /dev/null -T "$WORK/src" "$(sed -n 1p <<<"$urls")"
    GET_URL[$side]=$("$AWS" s3 presign --endpoint-url "$ep" --expires-in 86400 s3://bench/big/get.bin)
    urls=$("$PY" "$HELPERS" presign "$ep" bench big/put.bin)
    PUT_URL[$side]=$(sed -n 1p <<<"$urls")
    PUTGET_URL[$side]=$(sed -n 2p <<<"$urls")
    HEAD_URL[$side]=$(sed -n 3p <<<"$urls")
    DEL_URL[$side]=$(sed -n 4p <<<"$urls")
done
DATA_FILE=$(sized_data_file "$WORK/data" big/get.bin "$SIZE")
log "aisfs data file of big/get.bin: $DATA_FILE"

get_curl() { get_checked "${GET_URL[$1]}" "$SIZE"; }
# To stdout, thrown away as curl's: awscli still fetches 8 MiB ranges 10 at a time. moto answers
# each range by reading the whole object from its temp file and slicing it (FakeKey.value), so its
# awscli GET time grows with the square of the size (~2 s at 128 MiB here, ~100 s expected at 1 GiB).
get_aws() { "$AWS" s3 cp --no-progress --endpoint-url "${EP[$1]}" s3://bench/big/get.bin - >/dev/null; }
put_curl() { curl -fsS -o /dev/null -T "$WORK/src" "${PUT_URL[$1]}"; }
put_aws() { "$AWS" s3 cp --no-progress --endpoint-url "${EP[$1]}" "$WORK/src" s3://bench/big/put.bin >/dev/null; }
get_tiny() { "$AWS" s3 cp --no-progress --endpoint-url "${EP[$1]}" s3://bench/tiny - >/dev/null; }
dd_ref() { dd if="$DATA_FILE" of=/dev/null bs=1M status=none; }
# MD5 of the source on one core (hashlib, 8 MiB reads): what a PUT into an md5 bucket must hash.
md5_ref() { "$PY" -c 'import hashlib, sys
h, f = hashlib.md5(), open(sys.argv[1], "rb", buffering=0)
while b := f.read(8 << 20): h.update(b)' "$WORK/src"; }
# After each timed PUT, untimed: HEAD says the size, then DELETE, so every PUT creates the object.
put_done() {
    local len
    len=$(curl -fsS -I "${HEAD_URL[$1]}" | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
    [[ "$len" -eq $SIZE ]] || die "$1: after PUT, HEAD says $len bytes, want $SIZE"
    curl -fsS -o /dev/null -X DELETE "${DEL_URL[$1]}"
}

# Warm-up, one of each, checked byte for byte against the source (the sink keeps no PUT to check).
for side in "${SIDES[@]}" sink; do
    curl -fsS "${GET_URL[$side]}" | cmp -s - "$WORK/src" || die "$side: GET (curl, presigned) differs from the source"
    "$AWS" s3 cp --no-progress --endpoint-url "${EP[$side]}" s3://bench/big/get.bin - | cmp -s - "$WORK/src" ||
        die "$side: GET (aws s3 cp) differs from the source"
    for put in put_curl put_aws; do
        if [[ $side == sink ]]; then "$put" sink; continue; fi
        "$put" "$side"
        curl -fsS "${PUTGET_URL[$side]}" | cmp -s - "$WORK/src" || die "$side: object written by $put differs from the source"
        put_done "$side"
    done
done
dd_ref

# awscli's fixed cost per command (Python start, credentials, one small request), to read the awscli
# figures by: the time `aws s3 cp` takes to fetch a 1-byte object.
printf 'x' >"$WORK/tiny"
for side in "${SIDES[@]}"; do
    "$AWS" s3 cp --no-progress --endpoint-url "${EP[$side]}" "$WORK/tiny" s3://bench/tiny >/dev/null
    fixed=()
    for ((i = 0; i < 3; i++)); do fixed+=("$(timed get_tiny "$side")"); done
    log "awscli fixed cost: aws s3 cp of a 1-byte object from $side takes $(printf '%s\n' "${fixed[@]}" | median) s (median of 3)"
done

# Warm runs, every measurement alternating with the others in turn (the sink's: the ceilings).
for ((i = 0; i < RUNS; i++)); do
    line="run $((i + 1)), GB/s:"
    for op in get_curl get_aws put_curl put_aws; do
        for side in "${SIDES[@]}" sink; do
            t=$(timed "$op" "$side")
            R[$op.$side]+=" $(gbps $SIZE "$t")"
            line+=" $op $side ${R[$op.$side]##* },"
            [[ $op != put_* || $side == sink ]] || put_done "$side"
        done
        if [[ $op == get_aws ]]; then
            t=$(timed dd_ref)
            R[dd_warm]+=" $(gbps $SIZE "$t")"
            line+=" dd warm ${R[dd_warm]##* },"
        fi
    done
    t=$(timed md5_ref)
    R[md5]+=" $(gbps $SIZE "$t")"
    line+=" md5 ${R[md5]##* },"
    log "${line%,}"
done

# Cold runs (aisfs and dd only: moto's copy is in its memory and temp files, and the moto
# comparison above is warm on both sides). Page cache dropped before each measurement; before the
# awscli GET, awscli's own modules are brought back by a tiny download from moto, so its figure is
# not its Python start from disk and aisfs's caches stay cold.
COLD=0
if drop_caches; then
    COLD=1
    for ((i = 0; i < RUNS; i++)); do
        drop_caches
        t=$(timed get_curl aisfs); R[cold.get_curl]+=" $(gbps $SIZE "$t")"
        drop_caches
        t=$(timed dd_ref); R[cold.dd]+=" $(gbps $SIZE "$t")"
        drop_caches
        get_tiny moto
        t=$(timed get_aws aisfs); R[cold.get_aws]+=" $(gbps $SIZE "$t")"
        log "cold run $((i + 1)), GB/s: get_curl aisfs ${R[cold.get_curl]##* }, dd ${R[cold.dd]##* }," \
            "get_aws aisfs ${R[cold.get_aws]##* }"
    done
else
    log "cold variant unavailable: cannot write /proc/sys/vm/drop_caches (needs root and a writable /proc/sys)"
fi

med() { printf '%s\n' ${R[$1]} | median; }
dd_warm=$(med dd_warm)
result "S3 GET $LABEL, curl presigned URL" "$(med get_curl.aisfs)" GB/s "$(med get_curl.moto)" "moto, same client" 5
result "S3 GET $LABEL, aws s3 cp" "$(med get_aws.aisfs)" GB/s "$(med get_aws.moto)" "moto, same client" 5
result "S3 PUT $LABEL, curl -T presigned URL" "$(med put_curl.aisfs)" GB/s "$(med put_curl.moto)" "moto, same client" 5
result "S3 PUT $LABEL, aws s3 cp" "$(med put_aws.aisfs)" GB/s "$(med put_aws.moto)" "moto, same client" 5
for op in "get_curl:S3 GET $LABEL, curl" "get_aws:S3 GET $LABEL, aws s3 cp" "put_curl:S3 PUT $LABEL, curl -T" \
    "put_aws:S3 PUT $LABEL, aws s3 cp"; do
    context "${op#*:}: the client's ceiling (s3_sink.py, a server doing no work) over moto" \
        "$(med "${op%%:*}.sink")" GB/s "$(med "${op%%:*}.moto")" "moto, same client"
done
context "MD5 of $LABEL on one core (what a PUT into an md5 bucket hashes) over moto's curl PUT" \
    "$(med md5)" GB/s "$(med put_curl.moto)" "moto, curl -T"
result "S3 GET $LABEL, curl presigned URL, warm" "$(med get_curl.aisfs)" GB/s "$dd_warm" \
    "dd of the data file, page cache (warm)" 0.5
result "S3 GET $LABEL, aws s3 cp, warm" "$(med get_aws.aisfs)" GB/s "$dd_warm" \
    "dd of the data file, page cache (warm)" 0.5
context "S3 GET $LABEL, aws s3 cp: the client's ceiling (s3_sink.py) over dd, warm" "$(med get_aws.sink)" GB/s \
    "$dd_warm" "dd of the data file, page cache (warm)"
if ((COLD)); then
    dd_cold=$(med cold.dd)
    result "S3 GET $LABEL, curl presigned URL, cold" "$(med cold.get_curl)" GB/s "$dd_cold" \
        "dd of the data file, caches dropped (cold)" 0.5
    result "S3 GET $LABEL, aws s3 cp, cold" "$(med cold.get_aws)" GB/s "$dd_cold" \
        "dd of the data file, caches dropped (cold)" 0.5
    context "S3 GET $LABEL, aws s3 cp: the client's ceiling (s3_sink.py, from page cache) over dd, cold" \
        "$(med get_aws.sink)" GB/s "$dd_cold" "dd of the data file, caches dropped (cold)"
else
    unavailable "S3 GET $LABEL vs dd, cold" "/proc/sys/vm/drop_caches is not writable here"
fi
