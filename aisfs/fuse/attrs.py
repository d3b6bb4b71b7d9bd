"""POSIX attributes kept in an object's user metadata, and the mount-wide defaults for foreign objects."""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass

import pyfuse3

from engine.meta import ObjectMeta

# User-metadata keys the mount owns (visible to S3 as x-amz-meta-aisfs-*; hidden from user.meta.* xattrs).
MODE, UID, GID = "aisfs-mode", "aisfs-uid", "aisfs-gid"
MTIME, ATIME, CTIME = "aisfs-mtime", "aisfs-atime", "aisfs-ctime"
SYMLINK = "aisfs-symlink"
RESERVED_PREFIX = "aisfs-"


@dataclass(slots=True)
class MountAttrs:
    """Mount-wide defaults and kernel cache TTL."""

    uid: int
    gid: int
    file_mode: int = 0o644
    dir_mode: int = 0o755
    ttl: float = 1.0
    started_ns: int = 0      # the time of directories that have no marker object

    def __post_init__(self) -> None:
        self.started_ns = self.started_ns or time.time_ns()


def _int(custom: dict[str, str], key: str, base: int = 10) -> int | None:
    v = custom.get(key)
    if v is None:
        return None
    try:
        return int(v, base)
    except ValueError:
        return None


def times_of(meta: ObjectMeta) -> tuple[int, int, int]:
    """(atime, mtime, ctime) in ns: stored times win until the object is read again after they were set."""
    c = meta.custom
    mtime = _int(c, MTIME) or meta.mtime_ns
    ctime = _int(c, CTIME) or meta.mtime_ns
    atime = meta.atime_ns
    set_atime = _int(c, ATIME)
    if set_atime is not None and meta.atime_ns <= ctime:
        atime = set_atime
    return atime, mtime, ctime


def make_attr(ino: int, kind: str, meta: ObjectMeta | None, d: MountAttrs, *, size: int | None = None,
              mtime_ns: int | None = None) -> pyfuse3.EntryAttributes:
    a = pyfuse3.EntryAttributes()
    a.st_ino = ino
    a.generation = 0
    a.entry_timeout = d.ttl
    a.attr_timeout = d.ttl
    custom = meta.custom if meta else {}
    perm = _int(custom, MODE, 8)
    if kind == "dir":
        a.st_mode = stat.S_IFDIR | (perm if perm is not None else d.dir_mode) & 0o7777
        a.st_nlink = 2
        a.st_size = 0
    elif kind == "link":
        a.st_mode = stat.S_IFLNK | 0o777
        a.st_size = meta.size if meta else 0
    else:
        a.st_mode = stat.S_IFREG | (perm if perm is not None else d.file_mode) & 0o7777
        a.st_size = size if size is not None else (meta.size if meta else 0)
    uid, gid = _int(custom, UID), _int(custom, GID)
    a.st_uid = d.uid if uid is None else uid
    a.st_gid = d.gid if gid is None else gid
    if meta is not None:
        at, mt, ct = times_of(meta)
    else:
        at = mt = ct = d.started_ns
    if mtime_ns is not None:
        mt = ct = mtime_ns
    a.st_atime_ns, a.st_mtime_ns, a.st_ctime_ns = at, mt, ct
    a.st_blksize = 1 << 20
    a.st_blocks = (a.st_size + 511) // 512
    return a


def default_ids() -> tuple[int, int]:
    return os.getuid(), os.getgid()
