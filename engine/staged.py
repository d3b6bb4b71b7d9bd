"""Staged files: a work file written at any offset, any number of times (a mount's open file), that
becomes the object's data file itself when committed, so every byte is written to disk once.

The checksum of the prefix written front to back is kept on the way, so a file written sequentially
needs no re-read at commit; any write into that prefix (or a truncate below it) starts it over.
"""
from __future__ import annotations

import os

from .checksum import MultiHasher
from .mountpath import Mountpath
from .workfile import WorkFile, pwrite_all, space_error
from .writeback import Writeback

HASH_CHUNK = 4 << 20


class StagedFile(WorkFile):
    """Lives in `%wk/` until committed; afterwards it *is* the data file, so it is `sealed` and
    any further change goes to a `successor` copy (committed objects never change in place)."""

    def __init__(self, mp: Mountpath, cksum_type: str, writeback: Writeback | None = None) -> None:
        super().__init__(mp, {cksum_type}, access=os.O_RDWR)
        self.cksum_type = cksum_type
        self._hashed = 0      # bytes [0, _hashed) are in `hasher`, in order
        self._writeback = writeback

    @property
    def fd(self) -> int:
        return self._fd

    def pwrite(self, data: bytes | memoryview, offset: int) -> int:
        """Write all of `data` at `offset` (blocking: the caller picks a thread for large writes)."""
        assert not self.sealed, "a committed data file is never written"
        try:
            pwrite_all(self.fd, data, offset)
        except OSError as e:
            raise space_error(e) from e
        if offset == self._hashed:
            self.hasher.update(data)
            self._hashed += len(data)
            if self._writeback is not None:
                self._writeback.written(self.fd, offset, len(data))
        elif offset < self._hashed:
            self._restart_hash(self.cksum_type)
        self.size = max(self.size, offset + len(data))
        return len(data)

    def pread(self, size: int, offset: int) -> bytes:
        return os.pread(self.fd, size, offset)

    def truncate(self, size: int) -> None:
        assert not self.sealed, "a committed data file is never truncated"
        os.ftruncate(self.fd, size)
        if size < self._hashed:
            self._restart_hash(self.cksum_type)
        self.size = size

    def _restart_hash(self, cksum_type: str) -> None:
        self.cksum_type = cksum_type
        self.hasher = MultiHasher({cksum_type})
        self._hashed = 0

    def hashed(self, cksum_type: str) -> bool:
        """Whether the running checksum (in `cksum_type`) already covers every byte: nothing to read back."""
        return cksum_type == self.cksum_type and self._hashed >= self.size

    def finish_sync(self, cksum_type: str) -> None:
        """Hash what the running checksum has not covered (in `cksum_type`, the bucket's now); blocking,
        for a worker thread."""
        if cksum_type != self.cksum_type:
            self._restart_hash(cksum_type)
        while self._hashed < self.size:
            chunk = os.pread(self.fd, min(HASH_CHUNK, self.size - self._hashed), self._hashed)
            if not chunk:
                raise OSError(f"staged file is shorter ({self._hashed}) than written ({self.size})")
            self.hasher.update(chunk)
            self._hashed += len(chunk)

    def commit(self, lom: bytes) -> str:
        """Keep the descriptor of the placed file: open handles still read it."""
        self._stamp(lom)
        self.sealed = True  # from here on the file is (or was, if indexing fails) an object's data
        return self.fid

    def successor(self) -> "StagedFile":
        """A fresh staged copy of this (sealed) one, copied in the kernel; blocking."""
        nxt = StagedFile(self.mp, self.cksum_type, self._writeback)
        try:
            pos = 0
            while pos < self.size:
                n = os.copy_file_range(self.fd, nxt.fd, self.size - pos, pos, pos)
                if n == 0:
                    break
                pos += n
            nxt.size = pos
        except OSError as e:
            nxt.abort()
            raise space_error(e) from e
        except BaseException:
            nxt.abort()
            raise
        return nxt

    def close(self) -> None:
        """Let go of the file: removed if never committed; a committed one stays as the object's data."""
        self.abort()
