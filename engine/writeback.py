"""Early writeback of files written front to back through the mount (`cp`, `dd` or `rsync` of a large file).

Without it the kernel keeps a whole 1 GiB copy dirty in the page cache (the background threshold is a tenth
of the RAM) and writes all of it at the commit's fsync, while the writer waits: close took ~0.9 s of a
2.5 s copy. Here each STEP of a staged file is handed to the disk as soon as it has been written
(`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which starts the writes and does not wait for them), so the
disk works while the bytes arrive and the fsync waits only for the tail: a 1 GiB `dd` into the mount ran
~25% faster (docs/performance.md).

The call builds the I/O in its caller, which made the writer thread itself slower when it was made
there (tried earlier, +6% at best): one thread of its own, run by the engine's nursery until `stop`,
makes it instead. Writers only append to a deque (a `dup` of the descriptor, so a file closed meanwhile
never has its number reused under the thread).
"""
from __future__ import annotations

import collections
import ctypes
import logging
import os
import threading

log = logging.getLogger("aisfs.engine")

STEP = 8 << 20   # written back in pieces of this size, each once it is complete
QUEUE = 64       # pieces waiting for the thread; more are left to the kernel's own writeback
_SYNC_FILE_RANGE_WRITE = 2

_libc = ctypes.CDLL(None, use_errno=True)
_sync_file_range = _libc.sync_file_range
_sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
_sync_file_range.restype = ctypes.c_int


class Writeback:
    def __init__(self) -> None:
        self._pending: collections.deque[tuple[int, int, int]] = collections.deque()
        self._wake = threading.Event()
        self._running = False
        self._stopped = False

    def written(self, fd: int, offset: int, length: int) -> None:
        """From any thread, never waiting: bytes [offset, offset + length) of `fd` were written; every STEP
        they complete is handed to the disk."""
        if not self._running or self._stopped:
            return
        for boundary in range((offset // STEP + 1) * STEP, offset + length + 1, STEP):  # the pieces this write ends
            if len(self._pending) >= QUEUE:
                break
            try:
                self._pending.append((os.dup(fd), boundary - STEP, STEP))
            except OSError:  # out of descriptors: the kernel's own writeback will do, the write must not fail
                break
        if self._pending and not self._wake.is_set():
            self._wake.set()

    def serve(self) -> None:
        """The thread's body, until `stop`; what is queued then is closed, not written back."""
        self._running = True
        try:
            while not self._stopped:
                self._wake.wait()
                self._wake.clear()
                while self._pending and not self._stopped:
                    fd, offset, length = self._pending.popleft()
                    try:
                        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)
                    finally:
                        os.close(fd)
        finally:
            self._running = False
            while self._pending:
                os.close(self._pending.popleft()[0])

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
