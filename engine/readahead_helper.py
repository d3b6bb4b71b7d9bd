"""The read-ahead helper process (started by `engine/prefetch.py`, run as a plain script: it imports nothing
of the engine). It reads records `OFFSET SIZE PATH` ending in NUL on stdin and asks the kernel for SIZE bytes
of each data file from OFFSET (`posix_fadvise(WILLNEED)`), until stdin closes.

A process rather than a thread of the engine: from a thread, the three system calls per file each handed
the GIL back and forth with the event loop's thread, ~20 futex calls and 6-8 context switches per file at
2,000 small files/s; from here the daemon spent about a sixth less CPU per file, this process included
(docs/performance.md). The page cache is shared, so what this process asks for is what the engine then
reads without waiting."""
from __future__ import annotations

import os


def advise(path: str | bytes, size: int, offset: int = 0) -> None:
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


def main() -> None:
    pending = b""
    while chunk := os.read(0, 1 << 16):  # b"": the engine closed the pipe (or exited): done
        *records, pending = (pending + chunk).split(b"\0")
        for record in records:
            offset, size, path = record.split(b" ", 2)
            advise(path, int(size), int(offset))


if __name__ == "__main__":
    main()
