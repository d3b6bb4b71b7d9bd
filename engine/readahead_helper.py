"""The read-ahead helper process (started by `engine/prefetch.py`, run as a plain script: it imports nothing
of the engine). It reads records `MODE OFFSET SIZE PATH` ending in NUL on stdin, until stdin closes, and
has SIZE bytes of the data file at PATH from OFFSET brought into the page cache:
- MODE `a` (ADVISE): `posix_fadvise(WILLNEED)`, which starts the reads and returns at once, so the next
  objects of a directory read in order are all asked for together;
- MODE `r` (READ): read through to /dev/null (`sendfile`), for spans of one large object read in order.
  WILLNEED asks the disk in 2 MiB pieces, which the reader's own reads then broke up further (requests of
  0.6-2 MiB); reading keeps the kernel's readahead of one sequential reader going, in requests as large
  as the disk takes (4 MiB here), and a mimic of the mount's READ loop ran ~10% faster for it
  (docs/performance.md). The last KEEP_OPEN such files stay open between spans, so readers of several
  large objects at once keep their readahead state too.

A process rather than a thread of the engine: from a thread, the three system calls per file each handed
the GIL back and forth with the event loop's thread, ~20 futex calls and 6-8 context switches per file at
2,000 small files/s; from here the daemon spent about a sixth less CPU per file, this process included
(docs/performance.md). The page cache is shared, so what this process asks for is what the engine then
reads without waiting."""
from __future__ import annotations

import collections
import os
import select

ADVISE, READ = b"a", b"r"
KEEP_OPEN = 4       # data files spans are read from, kept open (the most recently read)
IDLE_SECONDS = 1.0  # ... and closed after this long without a record


def advise(path: str | bytes, offset: int, size: int) -> None:
    """Ask the kernel for `size` bytes of `path` from `offset` (also used by the engine when the helper is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # replaced or deleted meanwhile: nothing to read ahead
    try:
        os.posix_fadvise(fd, offset, size, os.POSIX_FADV_WILLNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


class SpanReader:
    """Reads spans into the page cache from the data files of the last few large objects read in order,
    kept open while their spans keep coming, so the kernel's readahead state for each (a sequential
    reader's growing window) carries from span to span, also when several readers take turns."""

    def __init__(self, keep: int = KEEP_OPEN) -> None:
        self._null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        self._files: collections.OrderedDict[str | bytes, int] = collections.OrderedDict()
        self._keep = keep

    @property
    def holding(self) -> bool:
        return bool(self._files)

    def read(self, path: str | bytes, offset: int, size: int) -> None:
        fd = self._open(path)
        if fd < 0:
            return  # replaced or deleted meanwhile
        try:
            while size > 0:
                n = os.sendfile(self._null, fd, offset, size)
                if n <= 0:
                    return  # the end of the file
                offset, size = offset + n, size - n
        except OSError:
            os.close(self._files.pop(path))

    def _open(self, path: str | bytes) -> int:
        fd = self._files.get(path, -1)
        if fd >= 0:
            self._files.move_to_end(path)
            return fd
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return -1
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        self._files[path] = fd
        if len(self._files) > self._keep:
            os.close(self._files.popitem(last=False)[1])
        return fd

    def let_go(self) -> None:
        """Close the data files (a deleted object's space is freed only once nothing holds it open)."""
        while self._files:
            os.close(self._files.popitem()[1])

    def close(self) -> None:
        self.let_go()
        os.close(self._null)


def serve(reader: SpanReader, mode: bytes, path: str | bytes, offset: int, size: int) -> None:
    """One record (also used by the engine when the helper is gone)."""
    if mode == READ:
        reader.read(path, offset, size)
    else:
        advise(path, offset, size)


def main() -> None:
    pending = b""
    reader = SpanReader()
    try:
        while True:
            if reader.holding and not select.select([0], [], [], IDLE_SECONDS)[0]:
                reader.let_go()
                continue
            chunk = os.read(0, 1 << 16)
            if not chunk:  # the engine closed the pipe (or exited): done
                return
            *records, pending = (pending + chunk).split(b"\0")
            for record in records:
                mode, offset, size, path = record.split(b" ", 3)
                serve(reader, mode, path, int(offset), int(size))
    finally:
        reader.close()


if __name__ == "__main__":
    main()
