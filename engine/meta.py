"""Object metadata as the engine hands it to every face."""
from __future__ import annotations

from dataclasses import dataclass, field

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


def make_etag(cksum: Cksum, mtime_ns: int, size: int) -> str:
    """S3 ETag: the MD5 where the bucket keeps MD5; otherwise a token no tool mistakes for an MD5."""
    if cksum.type == "md5":
        return cksum.value
    if cksum.type != "none":
        return f"{cksum.type}-{cksum.value}"
    return f"t-{mtime_ns:x}-{size:x}"


@dataclass(slots=True)
class ListEntry:
    """One listing row: an object, or a virtual directory (`is_dir`, name ends with the delimiter)."""

    name: str
    is_dir: bool = False
    meta: ObjectMeta | None = None
