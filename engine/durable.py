"""Making what is already written survive a power loss."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Iterable

_libc = ctypes.CDLL(None, use_errno=True)
_libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
SYNC_FILE_RANGE_WRITE = 2


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


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the disk start on a written range now, without waiting (sync_file_range(2), WRITE only), so the
    fsync that makes the file durable later waits only for what came after. Not itself a durability step;
    its errors are left to that fsync (WRITE alone consumes none)."""
    _libc.sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)
