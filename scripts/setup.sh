#!/usr/bin/env bash
# Install what aisfs needs on Debian 12 and create/refresh the virtualenv .venv.
#
#   scripts/setup.sh [run|test|bench]...   (default: run)
#
# Safe to run any number of times and silent when there is nothing to do: Debian packages are
# installed only when one is missing (and `apt-get update` runs only then), and the editable
# install is redone only when pyproject.toml, scripts/constraints.txt or the interpreter changed
# (a stamp file in .venv).
# scripts/run.sh and scripts/test.sh call this first, so users never need to run it by hand.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
STAMP="$VENV/.aisfs-setup-stamp"
CONSTRAINTS="$ROOT/scripts/constraints.txt"  # pinned versions: see the file for why

# Debian packages per use. pyfuse3 has no wheel on PyPI, so it is compiled: gcc, pkg-config and
# libfuse3-dev; fuse3 gives fusermount3 for the mount, attr gives getfattr/setfattr to inspect the
# `user.ais.lom` xattrs. Tests add the real S3 clients they drive (rsync, for the mount; strace, to
# watch the order of the syncs behind an acknowledged write);
# benchmarks add the reference servers and load tools. Keep each list to what its user runs.
PKGS_run=(fuse3 libfuse3-dev pkg-config attr gcc)
PKGS_test=("${PKGS_run[@]}" rclone s3cmd rsync strace)
PKGS_bench=("${PKGS_run[@]}" curl nginx-light wrk)

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Root runs apt-get itself; anyone else goes through sudo when there is one.
SUDO=()
need_root() {
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "need root to install: $* (run as root, or install sudo)"
        SUDO=(sudo)
    fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# The interpreter: $PYTHON if set, else the first python3.11+ on PATH.
find_python() {
    local c
    for c in ${PYTHON:-} python3.11 python3 python; do
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$c"
            return
        fi
    done
    die "Python 3.11 or newer not found (set PYTHON=/path/to/python3.11)"
}

ensure_packages() {
    local want=() missing=() p
    for profile in "$@"; do
        case "$profile" in
            run) want+=("${PKGS_run[@]}") ;;
            test) want+=("${PKGS_test[@]}") ;;
            bench) want+=("${PKGS_bench[@]}") ;;
            *) die "unknown profile '$profile' (run, test or bench)" ;;
        esac
    done
    # Debian's own python3 ships venv/ensurepip and the C headers (for pyfuse3) as separate packages.
    if [[ "$PY" == /usr/bin/* ]]; then
        "$PY" -c 'import ensurepip' 2>/dev/null || want+=(python3-venv)
        "$PY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
            want+=(python3-dev)
    fi
    for p in "${want[@]}"; do
        installed "$p" || [[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get (this targets Debian 12)"
    need_root "${missing[@]}"
    say "installing Debian packages: ${missing[*]}"
    local log
    log=$(mktemp)
    # noninteractive: CI has no stdin; the log is shown only if apt fails, to stay quiet otherwise.
    # sudo may ask for a password: keep its prompt on the terminal, only apt's chatter goes to the log.
    [[ ${#SUDO[@]} -eq 0 ]] || sudo -v
    if ! { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "apt-get failed"
    fi
    rm -f "$log"
}

ensure_venv() {
    # Recreate a venv that is missing, broken, or made by an older Python.
    if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        say "creating virtualenv .venv with $PY"
        rm -rf "$VENV"
        "$PY" -m venv "$VENV"
    fi
    # The stamp covers what decides the install: the dependency list, the pins and the interpreter.
    local want
    want="$(cat "$ROOT/pyproject.toml" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print(sys.version)' | head -1)"
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && (cd / && "$VENV/bin/python" -c 'import aisfs, engine') 2>/dev/null; then
        return
    fi
    say "installing aisfs into .venv (pip install -e '.[test]', pinned by scripts/constraints.txt; ~1 minute when fresh)"
    local log
    log=$(mktemp)
    if ! PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$VENV/bin/python" -m pip install -q -c "$CONSTRAINTS" -e "$ROOT[test]" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "pip install failed"
    fi
    rm -f "$log"
    echo "$want" >"$STAMP"
}

[[ $# -eq 0 ]] && set -- run
PY=$(find_python)
ensure_packages "$@"
ensure_venv
