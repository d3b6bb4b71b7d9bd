#!/usr/bin/env bash
# Run every engine and S3 benchmark and print a table (markdown, ready for docs/performance.md).
# Not a test: never run in CI. Takes ~45-60 minutes, ~20 of them populating 1M objects and removing
# them again (once for list_1m and s3_list_1m together; BENCH_LIST_DATA=DIR keeps them for next time).
#
#   bash scripts/bench/run_all.sh [get_1g put_1g get_4k_wrk list_1m s3_big s3_4k_wrk s3_list_1m]
#   bash scripts/bench/run_all.sh fuse_compare   # the FUSE mount vs s3fs/rclone (root, ~15 min; not a default)
#
# Environment: BENCH_RUNS (runs per side, default 3), BENCH_TMP (where data and reference
# files go, default $TMPDIR or /tmp), BENCH_WRK_SECONDS (default 10), BENCH_LIST_OBJECTS,
# BENCH_LIST_DATA (keep/reuse the populated listing data dir), BENCH_S3_SIZE_MB (s3_big's object,
# default 1024), BENCH_S3_MOTO_LIST_OBJECTS (moto's listing bucket, default 10000), BENCH_WORKERS
# (aisfs serve --workers, default auto: a process per core, as nginx runs a worker per core).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$HERE/../setup.sh" bench

[[ $# -gt 0 ]] || set -- get_1g put_1g get_4k_wrk list_1m s3_big s3_4k_wrk s3_list_1m
BENCH_RESULTS=$(mktemp)
export BENCH_RESULTS
# list_1m and s3_list_1m list the same populated bucket: unless BENCH_LIST_DATA says where to keep
# it, build it once in a temp dir for both and remove it at the end.
LIST_TMP=
if [[ -z "${BENCH_LIST_DATA:-}" && " $* " == *" list_1m "* && " $* " == *" s3_list_1m "* ]]; then
    LIST_TMP=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/aisfs-bench-list.XXXXXX")
    export BENCH_LIST_DATA="$LIST_TMP/data"
fi
trap 'rm -f "$BENCH_RESULTS"; [[ -z "$LIST_TMP" ]] || rm -rf "$LIST_TMP"' EXIT

# Other work on this 2-core machine skews every figure: record the load around the run.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
failed=()
for b in "$@"; do
    # One failing benchmark must not hide the others' figures.
    bash "$HERE/$b.sh" || failed+=("$b")
    echo
done

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r), runs per side: ${BENCH_RUNS:-3}," \
    "load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| benchmark | aisfs | reference | ratio | target | result |"
echo "|---|---|---|---|---|---|"
while IFS=$'\t' read -r name fig unit ref refname ratio target verdict; do
    if [[ "$verdict" == n/a ]]; then
        echo "| $name | not measured: $refname | | | | n/a |"
    else
        echo "| $name | $fig $unit | $ref $unit ($refname) | $ratio | $target | $verdict |"
    fi
done <"$BENCH_RESULTS"
for b in "${failed[@]}"; do
    echo "| $b | error: the benchmark did not finish | | | | ERROR |"
done
[[ ${#failed[@]} -eq 0 ]]
