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

# One process serves every face; each face adds its options here (the FUSE mount will add its
# mountpoint to serve_args and a line to the banner).
serve_args=(serve --data-dir "$DATA_DIR" --listen "$LISTEN")

echo "aisfs: data in $DATA_DIR"
echo "aisfs: REST http://$LISTEN/v1   S3 http://$LISTEN   (Ctrl-C to stop)"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m aisfs "${serve_args[@]}" "$@"
