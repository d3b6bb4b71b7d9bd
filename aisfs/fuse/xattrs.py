"""Extended attributes: read-only `user.ais.*` system values and `user.meta.*` for user metadata.

Absent names are ENODATA (never ENOSYS, which would switch xattrs off for the whole mount), and
`security.*` is answered here without a store round trip, as the kernel asks for it before writes.
"""
from __future__ import annotations

import datetime as dt
import errno

from engine.meta import ObjectMeta

from .attrs import RESERVED_PREFIX
from .errnos import fail

AIS = "user.ais."
META = "user.meta."
READONLY_NAMES = ("checksum", "version", "atime", "etag", "size")


def rfc3339(ns: int) -> str:
    t = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


def system_values(meta: ObjectMeta) -> dict[str, str]:
    return {"checksum": str(meta.cksum), "version": meta.version, "atime": rfc3339(meta.atime_ns),
            "etag": meta.etag, "size": str(meta.size)}


def is_readonly(name: str) -> bool:
    return name.startswith(AIS) and name[len(AIS):] in READONLY_NAMES


def list_names(meta: ObjectMeta | None) -> list[bytes]:
    if meta is None:
        return []
    names = [f"{AIS}{n}" for n in READONLY_NAMES]
    names += [f"{META}{k}" for k in sorted(meta.custom) if not k.startswith(RESERVED_PREFIX)]
    return [n.encode() for n in names]


def get(meta: ObjectMeta | None, name: str) -> bytes:
    if meta is not None:
        if is_readonly(name):
            return system_values(meta)[name[len(AIS):]].encode()
        if name.startswith(META):
            k = name[len(META):]
            if k and not k.startswith(RESERVED_PREFIX) and k in meta.custom:
                return meta.custom[k].encode()
    raise fail(errno.ENODATA)


def user_key(name: str) -> str:
    """The user-metadata key a settable xattr name maps to; EPERM/ENOTSUP for names we do not store."""
    if name.startswith(META):
        k = name[len(META):]
        if not k or k.startswith(RESERVED_PREFIX):
            raise fail(errno.EPERM)
        return k
    if name.startswith(AIS):
        raise fail(errno.EPERM)
    raise fail(errno.ENOTSUP)


def check_set(meta: ObjectMeta | None, name: str, value: bytes) -> str | None:
    """Validate a set; None means "nothing to store" (an identical value written to a read-only name)."""
    if name.startswith(AIS):
        if meta is not None and is_readonly(name) and system_values(meta)[name[len(AIS):]].encode() == value:
            return None
        raise fail(errno.EPERM)
    key = user_key(name)
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(errno.EINVAL) from None
    return key
