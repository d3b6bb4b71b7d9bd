# Shared by the benchmarks (sourced, not run): a temp work dir, our own `aisfs serve` on a free
# loopback port, and cleanup by PID on every exit, failure included.
# shellcheck shell=bash

shopt -s inherit_errexit  # a failure inside $(...) fails the benchmark

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || { echo "bench: no .venv; run: bash scripts/setup.sh bench" >&2; exit 1; }

# BENCH_TMP chooses the disk; the data dir, the source files and dd's reference all live there.
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/aisfs-bench.XXXXXX")
SERVER_PID=
NGINX_PID=
MOTO_PID=
PORT=
URL=
NGINX_PORT=
MOTO_PORT=
MOTO_URL=
SINK_PID=
SINK_URL=

cleanup() {
    local rc=$?
    stop_pid "$SERVER_PID"
    stop_pid "$NGINX_PID"
    stop_pid "$MOTO_PID"
    stop_pid "$SINK_PID"
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# TERM, then KILL if it has not gone in 10 s; only ever the PID we started.
stop_pid() {
    local pid=$1 i
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server DATA_DIR: `aisfs serve` in the background, waits for /v1/health. BENCH_WORKERS is its
# --workers (default auto: one process per core, as start_nginx runs nginx; 1 for a single process).
WORKERS=${BENCH_WORKERS:-auto}
start_server() {
    local data=$1 i
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    (cd "$ROOT" && exec "$PY" -m aisfs serve --data-dir "$data" --listen "127.0.0.1:$PORT" --workers "$WORKERS") \
        >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 30 "$WORK/server.log" >&2
            die "aisfs serve exited"
        fi
        curl -fsS -o /dev/null "$URL/v1/health" 2>/dev/null && return 0
        sleep 0.1
    done
    tail -n 30 "$WORK/server.log" >&2
    die "aisfs serve did not become healthy on $URL"
}

stop_server() { stop_pid "$SERVER_PID"; SERVER_PID=; }

# start_nginx WWW_DIR: Debian's nginx serving WWW_DIR on a free loopback port ($NGINX_PORT), as
# Debian configures it (sendfile, tcp_nopush, one worker per core) but with no access log since
# aisfs writes none either; pid and temp paths in our work dir, so nothing system-wide is touched.
start_nginx() {
    local www=$1 i nginx
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    [[ -x "$nginx" ]] || die "nginx not found (bash scripts/setup.sh bench)"
    # Started as root, nginx's workers drop to nobody: let them reach the files.
    chmod 755 "$WORK" "$www"
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
        root $www;
    }
}
CONF
    "$nginx" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>>"$WORK/nginx/logs/error.log" &
    NGINX_PID=$!
    for ((i = 0; i < 100; i++)); do
        curl -sS -o /dev/null "http://127.0.0.1:$NGINX_PORT/" 2>/dev/null && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/logs/error.log" >&2; die "nginx exited"; }
        sleep 0.1
    done
    die "nginx did not answer on port $NGINX_PORT"
}

# start_moto: moto's S3 server (`moto_server`, from the venv's test extra) on a free loopback port
# ($MOTO_PORT, $MOTO_URL). It keeps objects in memory, spilling bodies above ~5 MiB to temp files:
# TMPDIR points those into our work dir, so they are on the same disk and removed with it.
start_moto() {
    local moto=$ROOT/.venv/bin/moto_server i
    [[ -x "$moto" ]] || die "moto_server not found in .venv (pip install -e '.[test]')"
    MOTO_PORT=$(free_port)
    MOTO_URL="http://127.0.0.1:$MOTO_PORT"
    mkdir -p "$WORK/moto"
    (cd "$WORK/moto" && TMPDIR="$WORK/moto" exec "$moto" -H 127.0.0.1 -p "$MOTO_PORT") >>"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    for ((i = 0; i < 300; i++)); do
        kill -0 "$MOTO_PID" 2>/dev/null || { tail -n 30 "$WORK/moto.log" >&2; die "moto_server exited"; }
        curl -fsS -o /dev/null "$MOTO_URL/" 2>/dev/null && return 0
        sleep 0.1
    done
    die "moto_server did not answer on $MOTO_URL"
}

# start_sink FILE: s3_sink.py on a free loopback port ($SINK_URL), serving FILE to every GET: a
# server that does no work of its own, whose figure with a client is that client's ceiling here.
start_sink() {
    local port i
    port=$(free_port)
    SINK_URL="http://127.0.0.1:$port"
    "$PY" "$ROOT/scripts/bench/s3_sink.py" --port "$port" --file "$1" >>"$WORK/sink.log" 2>&1 &
    SINK_PID=$!
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SINK_PID" 2>/dev/null || { tail -n 30 "$WORK/sink.log" >&2; die "s3_sink.py exited"; }
        curl -fsS -o /dev/null -I "$SINK_URL/bench/probe" 2>/dev/null && return 0
        sleep 0.1
    done
    die "s3_sink.py did not answer on $SINK_URL"
}

# aws_env: awscli (the venv's `aws`) with dummy credentials and a config of our own in the work
# dir (region us-east-1, path-style addressing, SigV4 also for `aws s3 presign`), so no user or
# system AWS config is read. Otherwise awscli's defaults: 8 MiB multipart threshold and parts,
# 10 concurrent requests, its default checksums.
AWS="$ROOT/.venv/bin/aws"
aws_env() {
    [[ -x "$AWS" ]] || die "aws not found in .venv (pip install -e '.[test]')"
    cat >"$WORK/aws.config" <<'CONF'
[default]
region = us-east-1
s3 =
    addressing_style = path
    signature_version = s3v4
CONF
    export AWS_CONFIG_FILE="$WORK/aws.config" AWS_SHARED_CREDENTIALS_FILE=/dev/null
    export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret AWS_DEFAULT_REGION=us-east-1
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CA_BUNDLE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
}

# data_file DATA_DIR KEY: the data file of the object KEY (any bucket), from index.db's objects and
# mountpaths tables: <mountpath>/%ob/xx/yy/<fid>.
data_file() {
    "$PY" - "$1/index.db" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
path, fid = db.execute("SELECT m.path, o.fid FROM objects o JOIN mountpaths m ON m.id = o.mp WHERE o.key = ?",
                       (sys.argv[2],)).fetchone()
print(f"{path}/%ob/{fid[:2]}/{fid[2:4]}/{fid}")
PY
}

# sized_data_file DATA_DIR KEY SIZE: data_file, checked to hold exactly SIZE bytes.
sized_data_file() {
    local f
    f=$(data_file "$1" "$2")
    [[ $(stat -c %s "$f") -eq $3 ]] || die "data file $f is not $3 bytes"
    echo "$f"
}

# get_checked URL SIZE: GET to /dev/null, failing unless exactly SIZE bytes came back.
get_checked() {
    local got
    got=$(curl -fsS -o /dev/null -w '%{size_download}' "$1")
    [[ "$got" -eq $2 ]] || die "GET $1 returned $got bytes, want $2"
}

# setup_4k: for the 4 KiB GET benchmarks: wrk is there, DURATION is set, $WORK/www/obj4k holds 4 KiB.
setup_4k() {
    DURATION=${BENCH_WRK_SECONDS:-10}
    command -v wrk >/dev/null || die "wrk not found (bash scripts/setup.sh bench)"
    mkdir -p "$WORK/www"
    head -c 4096 /dev/urandom >"$WORK/www/obj4k"
}

# drop_caches: `sync; echo 3 > /proc/sys/vm/drop_caches`; fails (quietly) where that is not
# writable (not root, or a read-only /proc/sys in a container).
drop_caches() { sync && { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; }

# wrk_rps URL SECONDS: requests/s with `wrk -t2 -c16`, failing on any error or non-2xx answer.
wrk_rps() {
    local out
    out=$(wrk -t2 -c16 -d"$2"s "$1")
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        echo "$out" >&2
        die "wrk saw errors against $1"
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

# CPU seconds (user + system) the process has used so far, from /proc.
# cpu_seconds PID: user + system CPU of the process and of its worker processes (children) so far.
cpu_seconds() {
    local pids
    pids=$(printf '/proc/%s/stat ' "$1" $(pgrep -P "$1" || true))
    # shellcheck disable=SC2086
    awk -v t="$(getconf CLK_TCK)" '{ s += $14 + $15 } END { printf "%.2f", s / t }' $pids
}

create_bucket() { curl -fsS -o /dev/null -X POST "$URL/v1/buckets/$1" -H 'Content-Type: application/json' -d '{"action":"create-bck"}'; }

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "  $*" >&2; }

# Runs given to each side; the figure is the median of the runs (both sides alike).
RUNS=${BENCH_RUNS:-3}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# result NAME FIGURE UNIT REFERENCE REFERENCE_NAME RATIO_TARGET [FIGURE_TARGET]
# Prints the figure beside the reference measured in the same run, their ratio, and PASS/FAIL
# against the target (on the ratio, or on the figure itself when RATIO_TARGET is "-"); appends a
# tab-separated line to $BENCH_RESULTS for run_all.sh's table.
result() {
    local name=$1 fig=$2 unit=$3 ref=$4 refname=$5 rt=$6 ft=${7:--} ratio verdict target
    ratio=$(awk -v a="$fig" -v b="$ref" 'BEGIN { printf "%.3f", a / b }')
    if [[ "$rt" != - ]]; then
        target="ratio >= $rt"
        # the unrounded ratio decides: 0.149 is not 0.15
        verdict=$(awk -v a="$fig" -v b="$ref" -v t="$rt" 'BEGIN { print (a / b >= t + 0) ? "PASS" : "FAIL" }')
    else
        target=">= $ft $unit"
        verdict=$(awk -v f="$fig" -v t="$ft" 'BEGIN { print (f + 0 >= t + 0) ? "PASS" : "FAIL" }')
    fi
    printf '%s: %s %s; reference (%s) %s %s; ratio %s; target %s: %s\n' \
        "$name" "$fig" "$unit" "$refname" "$ref" "$unit" "$ratio" "$target" "$verdict"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$fig" "$unit" "$ref" "$refname" "$ratio" "$target" "$verdict" \
        >>"${BENCH_RESULTS:-/dev/null}"
}

# context NAME FIGURE UNIT REFERENCE REFERENCE_NAME: like result, for a comparison that has no
# target (printed and tabled with "(context)" instead of PASS/FAIL).
context() {
    local ratio
    ratio=$(awk -v a="$2" -v b="$4" 'BEGIN { printf "%.2f", a / b }')
    printf '%s: %s %s; reference (%s) %s %s; ratio %s; context, no target\n' "$1" "$2" "$3" "$5" "$4" "$3" "$ratio"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$ratio" "(context)" "-" >>"${BENCH_RESULTS:-/dev/null}"
}

# unavailable NAME WHY: a measurement that could not be made here, said aloud and tabled.
unavailable() {
    printf '%s: not measured: %s\n' "$1" "$2"
    printf '%s\t-\t-\t-\t%s\t-\t-\tn/a\n' "$1" "$2" >>"${BENCH_RESULTS:-/dev/null}"
}

# Seconds (float) a command takes, its output discarded.
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

gbps() { awk -v bytes="$1" -v s="$2" 'BEGIN { printf "%.3f\n", bytes / s / 1e9 }'; }
