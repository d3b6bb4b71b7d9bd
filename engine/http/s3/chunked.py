"""`Content-Encoding: aws-chunked` request bodies: strip the framing, check chunk signatures
(STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) and the trailing checksum (`x-amz-checksum-*`).

The HTTP layer has already removed `Transfer-Encoding: chunked`; this is the second framing layer.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import AsyncIterable, AsyncIterator

from ...checksum import new_hasher
from ...errors import BadDigest, IncompleteBody
from .auth import ALGO, EMPTY_SHA256, Identity, hmac_hex
from .errors import InvalidRequest, SignatureDoesNotMatch

MAX_LINE = 4096
S3_CHECKSUMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256", "sha512", "md5", "xxhash64", "xxhash3", "xxhash128")


def b64_to_hex(value: str, algo: str) -> str:
    """A checksum header value (base64 of the digest) as the engine's hex."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        raise InvalidRequest(f"x-amz-checksum-{algo}: not valid base64") from None
    want = len(new_hasher(algo).hexdigest()) // 2  # the digest's size in bytes
    if len(raw) != want:
        raise InvalidRequest(f"x-amz-checksum-{algo}: expected {want} bytes of digest, got {len(raw)}")
    return raw.hex()


class _Buffered:
    """Pull-based reader over the HTTP body stream."""

    def __init__(self, body: AsyncIterable[bytes]) -> None:
        self._it = body.__aiter__()
        self.buf = bytearray()

    async def fill(self) -> None:
        try:
            chunk = await self._it.__anext__()
        except StopAsyncIteration:
            raise IncompleteBody("the aws-chunked body ended in the middle of a chunk") from None
        self.buf += chunk

    async def line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            if len(self.buf) > MAX_LINE:
                raise InvalidRequest("aws-chunked: chunk header line too long")
            await self.fill()


async def decode(body: AsyncIterable[bytes], ident: Identity, *, decoded_length: int | None,
                 trailer: str = "", checksums: dict[str, str] | None = None) -> AsyncIterator[bytes]:
    """Yield the payload of an aws-chunked stream; raise on bad framing, signatures or checksums.

    `trailer` names the announced trailing checksum header (x-amz-trailer), e.g. x-amz-checksum-crc32;
    once verified, its value is put into `checksums` (header name -> base64), for the face to store.
    """
    signed = ident.payload_hash.startswith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD") and bool(ident.signing_key)
    algo = trailer.lower().removeprefix("x-amz-checksum-") if trailer else ""
    if algo and algo not in S3_CHECKSUMS:
        algo = ""   # a type outside S3_CHECKSUMS: the trailer is read (and signature-checked) but not verified or stored
    hasher = new_hasher(algo) if algo else None
    prev_sig = ident.seed_signature
    r = _Buffered(body)
    total = 0
    while True:
        head = (await r.line()).decode("latin-1")
        size_s, _, ext = head.partition(";")
        try:
            size = int(size_s.strip(), 16)
        except ValueError:
            raise InvalidRequest(f"aws-chunked: bad chunk size {size_s[:32]!r}") from None
        if size < 0 or (decoded_length is not None and total + size > decoded_length):
            raise IncompleteBody("aws-chunked: chunks exceed x-amz-decoded-content-length")
        chunk_sig = ext.strip().removeprefix("chunk-signature=") if ext else ""
        if signed and not chunk_sig:
            raise SignatureDoesNotMatch("aws-chunked: missing chunk-signature")
        chunk_hash = hashlib.sha256() if signed else None
        left = size
        while left:
            if not r.buf:
                await r.fill()
            take = min(left, len(r.buf))
            piece = bytes(r.buf[:take])
            del r.buf[:take]
            left -= take
            if chunk_hash is not None:
                chunk_hash.update(piece)
            if hasher is not None:
                hasher.update(piece)
            total += take
            yield piece
        if signed:
            assert chunk_hash is not None
            sts = (f"{ALGO}-PAYLOAD\n{ident.amz_date}\n{ident.scope}\n{prev_sig}\n{EMPTY_SHA256}\n"
                   f"{chunk_hash.hexdigest()}")
            if not hmac.compare_digest(hmac_hex(ident.signing_key, sts), chunk_sig):
                raise SignatureDoesNotMatch("aws-chunked: chunk signature does not match")
            prev_sig = chunk_sig
        if size == 0:
            break
        if await r.line() != b"":
            raise InvalidRequest("aws-chunked: chunk data not followed by CRLF")
    # Trailers (name:value lines) up to an empty line; absent entirely in the plain signed variant.
    trailers: dict[str, str] = {}
    trailer_lines: list[str] = []
    while True:
        try:
            line = (await r.line()).decode("latin-1")
        except IncompleteBody:
            if trailers or algo:
                raise
            break
        if not line:
            break
        name, sep, value = line.partition(":")
        if not sep:
            raise InvalidRequest("aws-chunked: malformed trailer line")
        name = name.strip().lower()
        if name == "x-amz-trailer-signature":
            if signed:
                sts = (f"{ALGO}-TRAILER\n{ident.amz_date}\n{ident.scope}\n{prev_sig}\n"
                       f"{hashlib.sha256(''.join(trailer_lines).encode()).hexdigest()}")
                if not hmac.compare_digest(hmac_hex(ident.signing_key, sts), value.strip()):
                    raise SignatureDoesNotMatch("aws-chunked: trailer signature does not match")
            continue
        trailers[name] = value.strip()
        trailer_lines.append(f"{name}:{value.strip()}\n")
    if decoded_length is not None and total != decoded_length:
        raise IncompleteBody(f"aws-chunked body carried {total} of {decoded_length} declared bytes")
    if hasher is not None:
        sent = trailers.get(f"x-amz-checksum-{algo}")
        if sent is None:
            raise InvalidRequest(f"the announced trailer {trailer} was not sent")
        if b64_to_hex(sent, algo) != hasher.hexdigest():
            raise BadDigest(f"the {algo.upper()} you specified did not match the calculated checksum")
        if checksums is not None:
            checksums[f"x-amz-checksum-{algo}"] = sent
