"""Object checksums: one streaming hasher interface over every supported type."""
from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Callable, NamedTuple, Protocol

import crc32c as _crc32c
import xxhash
from awscrt import checksums as _crt

CKSUM_TYPES = ("none", "xxhash", "xxhash2", "md5", "crc32c", "sha256", "sha512")
# S3 clients name XXH64, XXH3-64 and XXH3-128 xxhash64, xxhash3 and xxhash128 (x-amz-checksum-xxhash3, ...)
VERIFY_TYPES = CKSUM_TYPES + ("sha1", "crc32", "crc64nvme", "xxhash64", "xxhash3", "xxhash128")


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


class _NoHash:
    def update(self, data: bytes | memoryview, /) -> None:
        pass

    def hexdigest(self) -> str:
        return ""


class _Crc:
    """A running CRC from a C function `fn(data, previous) -> int`; `digest()` is S3's big-endian form."""

    def __init__(self, fn: Callable[[bytes | memoryview, int], int], width: int) -> None:
        self._fn, self._width, self._v = fn, width, 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._v = self._fn(data, self._v)

    def hexdigest(self) -> str:
        return f"{self._v:0{self._width * 2}x}"

    def digest(self) -> bytes:
        return self._v.to_bytes(self._width, "big")


# Types an object can be stored with, then those that exist only to verify what S3 clients send (S3's
# xxhash64 / xxhash3 are our xxhash2 / xxhash).
_HASHERS: dict[str, Callable[[], Hasher]] = {
    "none": _NoHash,
    "xxhash": xxhash.xxh3_64,          # XXH3-64: the fastest here
    "xxhash2": xxhash.xxh64,
    "md5": lambda: hashlib.md5(usedforsecurity=False),
    "crc32c": lambda: _Crc(_crc32c.crc32c, 4),
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
    "sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "crc32": lambda: _Crc(zlib.crc32, 4),
    "crc64nvme": lambda: _Crc(_crt.crc64nvme, 8),  # CRC-64/NVME, by AWS's own C runtime
    "xxhash64": xxhash.xxh64,
    "xxhash3": xxhash.xxh3_64,
    "xxhash128": xxhash.xxh3_128,
}


def new_hasher(cksum_type: str) -> Hasher:
    """A fresh hasher of one of CKSUM_TYPES or VERIFY_TYPES."""
    try:
        return _HASHERS[cksum_type]()
    except KeyError:
        raise ValueError(f"unknown checksum type {cksum_type!r}") from None


def hex_to_b64(value: str) -> str:
    """A hex digest as S3 carries it (base64 of the raw bytes: x-amz-checksum-*, Checksum* elements)."""
    return base64.b64encode(bytes.fromhex(value)).decode()


class Cksum(NamedTuple):
    """A checksum value tagged with its type, e.g. `xxhash:1f2e...` (a tuple: one is built per listed object)."""

    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


# Hashes that take longer than writing the same bytes to the page cache (MD5 ~0.6 GB/s here, the SHAs
# less): worth a thread of their own beside the write.
_SLOW = frozenset({"md5", "sha1", "sha256", "sha512"})


class MultiHasher:
    """Feeds one stream to several hashers (object checksum plus what the client asked to verify)."""

    def __init__(self, types: set[str]) -> None:
        self.hashers: dict[str, Hasher] = {t: new_hasher(t) for t in types if t != "none"}
        self.slow = bool(_SLOW & self.hashers.keys())

    def update(self, data: bytes | memoryview) -> None:
        for h in self.hashers.values():
            h.update(data)

    def hexdigest(self, cksum_type: str) -> str:
        return self.hashers[cksum_type].hexdigest() if cksum_type in self.hashers else ""
