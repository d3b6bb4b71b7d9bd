#!/usr/bin/env bash
# Install whatever is missing, then run the whole test suite.
#
#   scripts/test.sh [extra pytest arguments, e.g. -k s3 -x]
#
# pytest's own exit code is the script's: 1 for failures, and 5 when no test ran, which is a
# failure too (a suite that collects nothing must not look green).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh" test

cd "$ROOT"
# -q: one line per failure plus pytest's summary line; -ra: say why anything was skipped or
# xfailed. The per-test timeout comes from pyproject.toml (pytest-timeout).
exec "$ROOT/.venv/bin/python" -m pytest -q -ra tests "$@"
