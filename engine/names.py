"""Naming rules for buckets (AIStore's) and object keys (S3's)."""
from __future__ import annotations

import re

from .errors import InvalidBucketName, InvalidObjectName, KeyTooLong

MAX_BUCKET_NAME = 64
MAX_KEY_BYTES = 1024
RESERVED_BUCKETS = frozenset({"v1", "s3"})
_BUCKET_RE = re.compile(r"[A-Za-z0-9._-]+")


def check_bucket_name(name: str) -> str:
    """Validate an `ais://` bucket name: <= 64 bytes of [A-Za-z0-9._-], no '..', not reserved."""
    if not name:
        raise InvalidBucketName("bucket name is empty")
    if len(name.encode()) > MAX_BUCKET_NAME:
        raise InvalidBucketName(f"bucket name {name!r} is longer than {MAX_BUCKET_NAME} bytes")
    if not _BUCKET_RE.fullmatch(name):
        raise InvalidBucketName(f"bucket name {name!r} may only contain letters, digits, '.', '_' and '-'")
    if name.startswith("."):
        raise InvalidBucketName(f"bucket name {name!r} may not start with '.' (reserved, as in AIStore)")
    if ".." in name:
        raise InvalidBucketName(f"bucket name {name!r} may not contain '..'")
    if name in RESERVED_BUCKETS:
        raise InvalidBucketName(f"bucket name {name!r} is reserved")
    return name


def check_key(key: str) -> str:
    """Validate an object key: any non-empty valid UTF-8 string of at most 1024 bytes (S3's rule).

    Keys never become file paths (data files are named by opaque ids), so `..`, `/`-edges and
    long components are all safe to store.
    """
    if not key:
        raise InvalidObjectName("object name is empty")
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidObjectName("object name is not valid UTF-8") from None
    if len(raw) > MAX_KEY_BYTES:
        raise KeyTooLong(f"object name is {len(raw)} bytes; the limit is {MAX_KEY_BYTES}")
    return key


def prefix_upper_bound(prefix: str) -> str | None:
    """Smallest string greater than every string that starts with `prefix` (None: unbounded).

    Code-point order equals UTF-8 byte order, so bumping the last code point is enough.
    """
    chars = list(prefix)
    while chars:
        cp = ord(chars[-1]) + 1
        if cp == 0xD800:
            cp = 0xE000
        if cp <= 0x10FFFF:
            chars[-1] = chr(cp)
            return "".join(chars)
        chars.pop()
    return None
