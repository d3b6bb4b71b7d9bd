"""HTTP Range header parsing shared by the REST and S3 faces."""
from __future__ import annotations

from .errors import BadRequest, RangeNotSatisfiable


def parse_range(header: str | None, size: int, *, whole_if_multi: bool = False) -> tuple[int, int] | None:
    """`bytes=a-b` / `bytes=a-` / `bytes=-n` -> (offset, length); None means the whole object.

    Only a single range is served. Several ranges are refused as unsatisfiable, as AIStore does, or
    with `whole_if_multi` ignored (the whole object, 200), as AWS S3 does. A syntactically invalid
    header is ignored, as RFC 9110 asks.
    """
    if not header:
        return None
    h = header.strip()
    if not h.startswith("bytes="):
        return None
    spec = h[6:].strip()
    if "," in spec:
        if whole_if_multi:
            return None
        raise RangeNotSatisfiable("multiple ranges are not supported", size=size)
    first, sep, last = spec.partition("-")
    if not sep:
        return None
    first, last = first.strip(), last.strip()
    try:
        if first == "":
            if not last:
                return None
            n = int(last)
            if n <= 0 or size == 0:
                raise RangeNotSatisfiable(size=size)
            n = min(n, size)
            return size - n, n
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= size:
        raise RangeNotSatisfiable(size=size)
    end = min(end, size - 1)
    return start, end - start + 1


def check_slice(offset: int, length: int | None, size: int) -> tuple[int, int]:
    """Validate an engine-level (offset, length) against the object size."""
    if offset < 0 or (length is not None and length < 0):
        raise BadRequest("negative offset or length")
    if offset > size or (offset == size and size > 0 and length):
        raise RangeNotSatisfiable(size=size)
    avail = size - offset
    return offset, avail if length is None else min(length, avail)
