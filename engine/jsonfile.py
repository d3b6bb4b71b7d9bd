"""Small JSON documents (config, BMD) replaced atomically: write, fsync, rename, fsync dir."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def load(path: Path) -> Any | None:
    """Return the parsed document, or None when it does not exist yet."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def save(path: Path, doc: Any) -> None:
    """Replace `path` with `doc` so a crash leaves either the old or the new document, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    data = json.dumps(doc, indent=1, sort_keys=True).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
