"""Making what is already written survive a power loss."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Iterable

_libc = ctypes.CDLL(None, use_errno=True)


def fsync_path(path: str | Path, *, data_only: bool = False) -> None:
    """fsync(2) a file or directory by its path (fdatasync when `data_only`)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        (os.fdatasync if data_only else os.fsync)(fd)
    finally:
        os.close(fd)


def fsync_dirs(paths: Iterable[str]) -> None:
    """fsync(2) the directory holding each of these files, each directory once: their names survive too."""
    for d in {os.path.dirname(p) for p in paths}:
        fsync_path(d)


def syncfs(path: str | Path) -> None:
    """syncfs(2): every dirty page of the filesystem holding `path`, not of every filesystem (sync(2))."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)
