"""A change counter for the bucket metadata and the config, shared with worker processes.

The owner of a data dir bumps it after every save of `bmd.json` or `config.json`; a worker process
(`aisfs serve --workers`) compares it before each request and reloads both when it moved. It lives in a
small file mapped into memory by every process: one read of 8 bytes per request, where a `stat` of
each file would cost a system call (and ext4's coarse timestamps can miss two changes in a row).
"""
from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

GENERATION_FILE = "meta.gen"
_SIZE = 8


class MetaGeneration:
    """The owner's (`create=True`: it bumps) or a worker's (it reads) view of the counter."""

    def __init__(self, data_dir: Path, *, create: bool) -> None:
        path = data_dir / GENERATION_FILE
        fd = os.open(path, (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY, 0o644)
        try:
            if create and os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE, prot=mmap.PROT_READ | (mmap.PROT_WRITE if create else 0))
        finally:
            os.close(fd)

    def value(self) -> bytes:
        return self._map[:_SIZE]

    def bump(self) -> None:
        """After a save: the one aligned 8-byte store a reader sees whole."""
        (n,) = struct.unpack_from("<Q", self._map)
        struct.pack_into("<Q", self._map, 0, n + 1)

    def close(self) -> None:
        self._map.close()
