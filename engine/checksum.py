"""Object checksums: one streaming hasher interface over every supported type."""
from __future__ import annotations

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


# Types an object can be stored with; `sha1`, `crc32`, `crc64nvme` and `xxhash64/3/128` exist only to verify
# what S3 clients send.
def new_hasher(cksum_type: str) -> Hasher:
    """A fresh hasher; `xxhash` is XXH3-64 (the fastest here), `xxhash2` is XXH64."""
    match cksum_type:
        case "none":
            return _NoHash()
        case "xxhash":
            return xxhash.xxh3_64()
        case "xxhash2":
            return xxhash.xxh64()
        case "md5":
            return hashlib.md5(usedforsecurity=False)
        case "crc32c":
            return _Crc(_crc32c.crc32c, 4)
        case "sha256":
            return hashlib.sha256()
        case "sha512":
            return hashlib.sha512()
        case "sha1":
            return hashlib.sha1(usedforsecurity=False)
        case "crc32":
            return _Crc(zlib.crc32, 4)
        case "xxhash64":
            return xxhash.xxh64()
        case "xxhash3":
            return xxhash.xxh3_64()
        case "xxhash128":
            return xxhash.xxh3_128()
        case "crc64nvme":
            return _Crc(_crt.crc64nvme, 8)  # CRC-64/NVME, by AWS's own C runtime
    raise ValueError(f"unknown checksum type {cksum_type!r}")


class Cksum(NamedTuple):
    """A checksum value tagged with its type, e.g. `xxhash:1f2e...` (a tuple: one is built per listed object)."""

    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class MultiHasher:
    """Feeds one stream to several hashers (object checksum plus what the client asked to verify)."""

    def __init__(self, types: set[str]) -> None:
        self.hashers: dict[str, Hasher] = {t: new_hasher(t) for t in types if t != "none"}

    def update(self, data: bytes | memoryview) -> None:
        for h in self.hashers.values():
            h.update(data)

    def hexdigest(self, cksum_type: str) -> str:
        return self.hashers[cksum_type].hexdigest() if cksum_type in self.hashers else ""
