#!/usr/bin/env bash
# Quick start: install whatever is missing, then run aisfs on its embedded default: data under
# ./.aisfs-data in the repo, REST (/v1) and S3 on 127.0.0.1:8080, and the bucket `data` mounted at
# ./mnt, all from one process. It prints where the mount is; Ctrl-C unmounts and stops it.
#
#   scripts/run.sh [extra `aisfs mount` options]
#
# AISFS_DATA_DIR, AISFS_LISTEN, AISFS_MOUNT and AISFS_BUCKET override the defaults.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh" run

DATA_DIR=${AISFS_DATA_DIR:-$ROOT/.aisfs-data}
LISTEN=${AISFS_LISTEN:-127.0.0.1:8080}
MOUNT=${AISFS_MOUNT:-$ROOT/mnt}
BUCKET=${AISFS_BUCKET:-data}

# A mount left behind by a daemon that died (kill -9, reboot of the process) is cleared first,
# so running this again always works.
mkdir -p "$MOUNT"
"$ROOT/.venv/bin/python" -m aisfs umount "$MOUNT" >/dev/null 2>&1 || true

# One process: the engine, the mount of $BUCKET, and S3 + REST beside it (--serve).
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m aisfs mount "$MOUNT" "$BUCKET" --create-bucket --foreground \
    --data-dir "$DATA_DIR" --serve "$LISTEN" "$@"
