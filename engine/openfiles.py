"""Open data files kept for the next read of the same object.

A hot small object read over and over (4 KiB GETs) paid an `open` of its four-level path and a `close`
per read: on this kind of machine ~12% of a GET's CPU. The last CAPACITY data files opened stay open
here, shared by every reader of that version; a file leaves when the engine lets it go (`drop`, from the
one place that unlinks data files), when newer opens push it out, or when the engine closes. An fd is
closed only once no reader holds it, so a reader never sees its descriptor reused for another file.

Each reuse `fstat`s the descriptor: a file unlinked or replaced on disk behind the engine's back (no
links left) or of the wrong size is not reused, so reads see exactly what opening the path would see.
"""
from __future__ import annotations

import collections
import os
import threading

CAPACITY = 256
# Data files this large are opened with POSIX_FADV_SEQUENTIAL: the kernel's readahead window for them
# doubles (twice the device's read_ahead_kb), which keeps a cold sequential read's disk busier while the
# reader (a FUSE READ loop, sendfile) works on the previous window. It only raises the ceiling: random
# reads still get readahead sized by what they ask for. Smaller files fit one default window anyway.
SEQUENTIAL_FROM = 8 << 20

FileKey = tuple[int, str]  # (mountpath id, data file id)


class OpenFile:
    """One open data file; `refs` readers hold it, `kept` while the cache still lists it."""

    __slots__ = ("fd", "refs", "kept")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.refs = 1
        self.kept = True


class OpenFiles:
    """LRU of open data files. Thread-safe: readers may be closed from worker threads."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._files: collections.OrderedDict[FileKey, OpenFile] = collections.OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, key: FileKey, path: str, size: int) -> tuple[OpenFile, bool]:
        """The open file for `key` (opened from `path` when not kept or no longer the one on disk), held
        until `release`; also says whether it was reused. Raises what `os.open` raises."""
        with self._lock:
            f = self._files.get(key)
            if f is not None:
                st = os.fstat(f.fd)
                if st.st_nlink > 0 and st.st_size == size:
                    f.refs += 1
                    self._files.move_to_end(key)
                    return f, True
                self._forget(key)
        f = OpenFile(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
        if size >= SEQUENTIAL_FROM:
            os.posix_fadvise(f.fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        with self._lock:
            if key in self._files:  # another thread opened it meanwhile: keep theirs, ours goes with its reader
                f.kept = False
                return f, False
            self._files[key] = f
            while len(self._files) > self._capacity:
                self._forget(next(iter(self._files)))
        return f, False

    def release(self, f: OpenFile) -> None:
        with self._lock:
            f.refs -= 1
            if f.refs == 0 and not f.kept:
                os.close(f.fd)

    def drop(self, keys: list[FileKey]) -> None:
        """These data files are being let go: they must not stay open (their space would stay in use)."""
        if not self._files:
            return
        with self._lock:
            for key in keys:
                if key in self._files:
                    self._forget(key)

    def sweep(self) -> None:
        """Let go of kept files unlinked since (a worker process is not told when the owner removes
        one: this bounds how long their space stays in use)."""
        with self._lock:
            for key in [k for k, f in self._files.items() if os.fstat(f.fd).st_nlink == 0]:
                self._forget(key)

    def close(self) -> None:
        with self._lock:
            for key in list(self._files):
                self._forget(key)

    def _forget(self, key: FileKey) -> None:
        f = self._files.pop(key)
        f.kept = False
        if f.refs == 0:
            os.close(f.fd)
