"""Small JSON documents (config, BMD) replaced atomically: write, fsync, rename, fsync dir."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .durable import fsync_path


def load(path: Path) -> Any | None:
    """Return the parsed document, or None when it does not exist yet."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def save(path: Path, doc: Any, *, private: bool = False) -> None:
    """Replace `path` with `doc` so a crash leaves either the old or the new document, never half.

    A `private` document (one holding secrets) is readable by its owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    data = json.dumps(doc, indent=1, sort_keys=True).encode()
    mode = 0o600 if private else 0o644
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # a leftover temp file keeps its old mode through O_CREAT
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_path(path.parent)
