#!/usr/bin/env bash
# Quick start: install whatever is missing, then run aisfs on its embedded default —
# data under ./.aisfs-data in the repo, REST (/v1) and S3 on 127.0.0.1:8080. Ctrl-C stops it.
#
#   scripts/run.sh [extra `aisfs serve` options]
#
# AISFS_DATA_DIR and AISFS_LISTEN override the defaults.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh" run

DATA_DIR=${AISFS_DATA_DIR:-$ROOT/.aisfs-data}
LISTEN=${AISFS_LISTEN:-127.0.0.1:8080}

# One process serves every face, and prints where each one is; a face that needs options (the
# FUSE mount's mountpoint) adds them to serve_args here.
serve_args=(serve --data-dir "$DATA_DIR" --listen "$LISTEN")

cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m aisfs "${serve_args[@]}" "$@"
