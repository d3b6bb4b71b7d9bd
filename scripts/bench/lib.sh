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
PORT=
URL=
NGINX_PORT=

cleanup() {
    local rc=$?
    stop_pid "$SERVER_PID"
    stop_pid "$NGINX_PID"
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

# start_server DATA_DIR: `aisfs serve` in the background, waits for /v1/health.
start_server() {
    local data=$1 i
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    (cd "$ROOT" && exec "$PY" -m aisfs serve --data-dir "$data" --listen "127.0.0.1:$PORT") \
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
    ratio=$(awk -v a="$fig" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')
    if [[ "$rt" != - ]]; then
        target="ratio >= $rt"
        verdict=$(awk -v r="$ratio" -v t="$rt" 'BEGIN { print (r + 0 >= t + 0) ? "PASS" : "FAIL" }')
    else
        target=">= $ft $unit"
        verdict=$(awk -v f="$fig" -v t="$ft" 'BEGIN { print (f + 0 >= t + 0) ? "PASS" : "FAIL" }')
    fi
    printf '%s: %s %s; reference (%s) %s %s; ratio %s; target %s: %s\n' \
        "$name" "$fig" "$unit" "$refname" "$ref" "$unit" "$ratio" "$target" "$verdict"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$fig" "$unit" "$ref" "$refname" "$ratio" "$target" "$verdict" \
        >>"${BENCH_RESULTS:-/dev/null}"
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
