"""Object metadata as the engine hands it to every face."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .checksum import Cksum


@dataclass(slots=True)
class ObjectMeta:
    """One stored object version; `etag` is unquoted, times are Unix nanoseconds."""

    bucket: str
    key: str
    size: int
    cksum: Cksum
    version: str
    etag: str
    atime_ns: int
    mtime_ns: int
    content_type: str = ""
    custom: dict[str, str] = field(default_factory=dict)   # user metadata (x-amz-meta-*)
    headers: dict[str, str] = field(default_factory=dict)  # stored standard headers (Cache-Control, ...)
    vid: str = "null"                                       # S3 version id
    mp: int = 0                                             # mountpath id of the data file
    fid: str = ""                                           # data file id
    durable: bool = False   # this process made the data and its directory durable at the write (not stored)


def make_etag(cksum: Cksum, mtime_ns: int, size: int) -> str:
    """S3 ETag: the MD5 where the bucket keeps MD5; otherwise a token no tool mistakes for an MD5."""
    if cksum.type == "md5":
        return cksum.value
    if cksum.type != "none":
        return f"{cksum.type}-{cksum.value}"
    return f"t-{mtime_ns:x}-{size:x}"


# Where ListEntry finds (size, checksum, version, atime, mtime, etag) in an index row: the full
# row (index.COLUMNS) or the narrow one listings select (index.LIST_COLUMNS).
FULL_ROW = (3, 5, 6, 8, 9, 7)
LIST_ROW = (1, 2, 3, 4, 5, 6)


class ListEntry:
    """One listing row: an object, or a virtual directory (`is_dir`, name ending with the delimiter).

    Listed objects keep their index row and build the full ObjectMeta only when `meta` is read, so
    a face that needs a few fields (size, checksum, times, ETag) lists a million objects without a
    million metadata objects.
    """

    __slots__ = ("name", "is_dir", "_meta", "_row", "_decode", "_atime", "_ix")

    def __init__(self, name: str, is_dir: bool = False, meta: ObjectMeta | None = None, *,
                 row: tuple | None = None, decode: Callable[[tuple], ObjectMeta | None] | None = None,
                 atime_ns: int = 0, layout: tuple[int, ...] = FULL_ROW) -> None:
        self.name, self.is_dir, self._meta = name, is_dir, meta
        self._row, self._decode, self._atime, self._ix = row, decode, atime_ns, layout

    @property
    def meta(self) -> ObjectMeta | None:
        if self._meta is None and self._row is not None and self._decode is not None:
            self._meta = self._decode(self._row)
            if self._meta is not None:
                self._meta.atime_ns = max(self._meta.atime_ns, self._atime)
            self._decode = None
        return self._meta

    @property
    def size(self) -> int:
        r = self._row
        return r[self._ix[0]] if r is not None else (self.meta.size if self.meta else 0)

    @property
    def cksum_value(self) -> str:
        r = self._row
        return r[self._ix[1]] if r is not None else (self.meta.cksum.value if self.meta else "")

    @property
    def version(self) -> str:
        r = self._row
        return r[self._ix[2]] if r is not None else (self.meta.version if self.meta else "")

    @property
    def atime_ns(self) -> int:
        r = self._row
        return max(r[self._ix[3]], self._atime) if r is not None else (self.meta.atime_ns if self.meta else 0)

    @property
    def mtime_ns(self) -> int:
        r = self._row
        return r[self._ix[4]] if r is not None else (self.meta.mtime_ns if self.meta else 0)

    @property
    def etag(self) -> str:
        r = self._row
        return r[self._ix[5]] if r is not None else (self.meta.etag if self.meta else "")

    def __repr__(self) -> str:
        return f"ListEntry({self.name!r}, is_dir={self.is_dir})"
