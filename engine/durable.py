"""Making what is already written survive a power loss."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: str | Path, *, data_only: bool = False) -> None:
    """fsync(2) a file or directory by its path (fdatasync when `data_only`)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        (os.fdatasync if data_only else os.fsync)(fd)
    finally:
        os.close(fd)
