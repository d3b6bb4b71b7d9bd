#!/usr/bin/env bash
# The FUSE mount benchmarks (fuse_compare.py) under run_all.sh's name scheme:
#   bash scripts/bench/run_all.sh fuse_compare
# Not in run_all.sh's default list: it needs root and ~15 minutes. Arguments go to fuse_compare.py.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ -x "$ROOT/.venv/bin/python" ]] || { echo "bench: no .venv; run: bash scripts/setup.sh bench" >&2; exit 1; }
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/bench/fuse_compare.py" "$@"
