"""Pieces every S3 handler shares: the request context, upload bodies (framing and checksums),
object response headers and conditional requests."""
from __future__ import annotations

import base64
import hashlib
import re
import hmac
from dataclasses import dataclass, field
from email.utils import parsedate_tz, mktime_tz
from typing import AsyncIterable

from ...checksum import hex_to_b64, new_hasher
from ...errors import BadDigest, EntityTooLarge, NotImplementedYet, PreconditionFailed
from ...meta import ObjectMeta
from ..server import Request, http_date, latin1
from . import chunked
from .auth import UNSIGNED, Identity
from .errors import ContentSHA256Mismatch, InvalidDigest, MissingContentLength, NotModified

STORED_HEADERS = ("content-encoding", "content-disposition", "content-language", "cache-control", "expires")
LATIN1_META = "x-meta-latin1"       # in ObjectMeta.headers: user-metadata keys whose values came as latin-1 bytes
DEFAULT_CTYPE = "binary/octet-stream"
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")   # what an HTTP header name may hold


@dataclass
class Ctx:
    """One S3 request, routed: who signed it, which bucket and key, its query parameters."""

    req: Request
    ident: Identity
    bucket: str = ""
    key: str = ""
    q: dict[str, str] = field(default_factory=dict)

    def h(self, name: str) -> str:
        return self.req.headers.get(name, "")


# What a write may ask for that this store cannot give: refused, never accepted and silently not done
# (an object the client believes encrypted, locked, tagged or public would be a lie).
_UNKEPT_PREFIXES = ("x-amz-server-side-encryption", "x-amz-copy-source-server-side-encryption",
                    "x-amz-object-lock-", "x-amz-grant-")
_UNKEPT = ("x-amz-tagging", "x-amz-website-redirect-location")
_PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read", "aws-exec-read")


def refuse_unkept(ctx: "Ctx") -> None:
    """NotImplemented for a write asking for encryption, object lock, tags, a redirect or a grant beyond the
    owner's; a canned `private` (or bucket-owner) ACL and any storage class are what every object has."""
    for name in ctx.req.headers:
        if name.startswith(_UNKEPT_PREFIXES) or name in _UNKEPT:
            raise NotImplementedYet(f"{name} is not supported: objects here are not encrypted, locked or tagged")
    if ctx.h("x-amz-acl") in _PUBLIC_ACLS or ctx.h("x-amz-bucket-object-lock-enabled").lower() == "true":
        raise NotImplementedYet("public ACLs and object lock are not supported: everything is private to its owner")


def header_text(v: str) -> tuple[str, bool]:
    """A received header value as text: UTF-8 when its bytes are UTF-8, else latin-1 (flag True)."""
    raw = v.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("latin-1"), True


def user_metadata(req: Request) -> tuple[dict[str, str], dict[str, str]]:
    """`x-amz-meta-*` (custom) and the standard headers S3 stores with an object."""
    custom: dict[str, str] = {}
    latin: list[str] = []
    headers: dict[str, str] = {}
    for k, v in req.headers.items():
        if k.startswith("x-amz-meta-") and len(k) > 11:
            text, is_latin = header_text(v)
            custom[k[11:]] = text
            if is_latin:
                latin.append(k[11:])
        elif k in STORED_HEADERS:
            if k == "content-encoding":
                v = ",".join(p.strip() for p in v.split(",") if p.strip() and p.strip().lower() != "aws-chunked")
            if v:
                headers[k] = header_text(v)[0]
    if latin:
        headers[LATIN1_META] = ",".join(latin)
    return custom, headers


def checksum_headers(m: ObjectMeta) -> list[tuple[str, str]]:
    """Checksums S3 clients verify: what the client sent, or the bucket's own sha256/crc32c, with its
    x-amz-checksum-type (a multipart "-N" value is COMPOSITE, which clients do not check against the body)."""
    out = [(k, v) for k, v in m.headers.items() if k.startswith("x-amz-checksum-")]
    if not out and m.cksum.type in ("sha256", "crc32c") and m.cksum.value and "-" not in m.etag:
        out.append((f"x-amz-checksum-{m.cksum.type}", hex_to_b64(m.cksum.value)))
    if out:
        out.append(("x-amz-checksum-type", checksum_type(out[0][1])))
    return out


def checksum_type(value: str) -> str:
    """S3's name for how a stored x-amz-checksum-* value was made."""
    return "COMPOSITE" if "-" in value else "FULL_OBJECT"


def sent_checksums(ctx: "Ctx") -> dict[str, str]:
    """The request's x-amz-checksum-<algo> headers: algo -> base64 value as sent."""
    return {algo: v.strip() for algo in chunked.S3_CHECKSUMS if (v := ctx.h(f"x-amz-checksum-{algo}"))}


def object_headers(m: ObjectMeta, *, versioned: bool) -> list[tuple[str, str]]:
    h = [("etag", f'"{m.etag}"'), ("last-modified", http_date(m.mtime_ns / 1e9)),
         ("content-type", latin1(m.content_type or DEFAULT_CTYPE)), ("accept-ranges", "bytes")]
    for k in STORED_HEADERS:
        if k in m.headers:
            h.append((k, latin1(m.headers[k])))
    latin = set(m.headers.get(LATIN1_META, "").split(","))
    missing = 0
    for k, v in m.custom.items():
        if not _TOKEN.fullmatch(k):   # set through /v1 or the mount with a name no header can carry
            missing += 1
            continue
        h.append((f"x-amz-meta-{k}", v if k in latin and _is_latin1(v) else latin1(v)))
    if missing:
        h.append(("x-amz-missing-meta", str(missing)))
    if versioned or m.vid != "null":
        h.append(("x-amz-version-id", m.vid))
    return h


def _is_latin1(s: str) -> bool:
    try:
        s.encode("latin-1")
        return True
    except UnicodeEncodeError:
        return False


# conditional requests --------------------------------------------------------------------------
def _etag_matches(header: str, etag: str) -> bool:
    for t in header.split(","):
        t = t.strip()
        if t == "*" or t.removeprefix("W/").strip('"') == etag:
            return True
    return False


def _http_time(v: str) -> float | None:
    d = parsedate_tz(v)
    return float(mktime_tz(d)) if d else None


def check_conditions(get: dict[str, str], m: ObjectMeta, *, copy_source: bool = False) -> None:
    """If-Match / If-None-Match / If-(Un)Modified-Since, in RFC 9110 order: 412, or 304 (GET/HEAD)."""
    mtime = m.mtime_ns // 1_000_000_000
    im, inm = get.get("if-match", ""), get.get("if-none-match", "")
    ims, ius = get.get("if-modified-since", ""), get.get("if-unmodified-since", "")
    if im:
        if not _etag_matches(im, m.etag):
            raise PreconditionFailed("At least one of the pre-conditions you specified did not hold")
    elif ius and (t := _http_time(ius)) is not None and mtime > t:
        raise PreconditionFailed("At least one of the pre-conditions you specified did not hold")
    fail = PreconditionFailed if copy_source else NotModified
    if inm:
        if _etag_matches(inm, m.etag):
            raise fail("At least one of the pre-conditions you specified did not hold" if copy_source else "")
    elif ims and (t := _http_time(ims)) is not None and mtime <= t:
        raise fail("At least one of the pre-conditions you specified did not hold" if copy_source else "")


# upload bodies -----------------------------------------------------------------------------------
@dataclass
class Upload:
    """A request body ready for the engine: the payload stream, its size and what to verify."""

    stream: AsyncIterable[bytes]
    size: int | None
    verify: dict[str, str]                       # checksum type -> hex, checked by the engine
    checksums: dict[str, str]                    # x-amz-checksum-* to store (base64), trailers added late
    content_sha256: str = ""                     # hex the signature covers: a mismatch is its own error
    trailer: str = ""


def prepare_upload(ctx: Ctx, *, body_checksums: bool = True, into: dict[str, str] | None = None) -> Upload:
    """Frame and check a request body; `body_checksums=False` where x-amz-checksum-* headers describe
    something else (CompleteMultipartUpload: the assembled object). The x-amz-checksum-* values go into
    `into` (default: a new dict), a trailing one as the body ends, i.e. before the engine commits."""
    req = ctx.req
    payload = ctx.ident.payload_hash or UNSIGNED
    streaming = "aws-chunked" in ctx.h("content-encoding").lower() or payload.startswith("STREAMING-")
    verify: dict[str, str] = {}
    checksums: dict[str, str] = {} if into is None else into
    if md5 := ctx.h("content-md5"):
        try:
            raw = base64.b64decode(md5, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 16:
            raise InvalidDigest("The Content-MD5 you specified is not valid.")
        verify["md5"] = raw.hex()
    for algo, v in (sent_checksums(ctx) if body_checksums else {}).items():
        verify[algo] = chunked.b64_to_hex(v, algo)
        checksums[f"x-amz-checksum-{algo}"] = v
    content_sha = payload.lower() if len(payload) == 64 and all(c in "0123456789abcdefABCDEF" for c in payload) else ""
    if content_sha:
        if verify.get("sha256", content_sha) != content_sha:
            raise BadDigest("x-amz-checksum-sha256 and x-amz-content-sha256 disagree")
        verify["sha256"] = content_sha
    if streaming:
        dl = ctx.h("x-amz-decoded-content-length")
        if not dl.isdigit():
            raise MissingContentLength("aws-chunked uploads need x-amz-decoded-content-length")
        trailer = ctx.h("x-amz-trailer").strip()
        stream = chunked.decode(req.body(), ctx.ident, decoded_length=int(dl), trailer=trailer, checksums=checksums)
        return Upload(stream, int(dl), verify, checksums, content_sha, trailer)
    if req.content_length is None and not req.chunked:
        raise MissingContentLength("You must provide the Content-Length HTTP header.")
    return Upload(req.body(), None if req.chunked else req.content_length, verify, checksums, content_sha)


def map_digest_error(e: BadDigest, up: Upload) -> BadDigest:
    """The engine says which checksum failed; x-amz-content-sha256 failing has S3's own code."""
    if up.content_sha256 and e.message.startswith("sha256"):
        return ContentSHA256Mismatch("The provided 'x-amz-content-sha256' header does not match what was computed.")
    return e


async def read_small_body(ctx: Ctx, limit: int, *, body_checksums: bool = True) -> bytes:
    """A whole (XML) request body, with Content-MD5, x-amz-checksum-* and x-amz-content-sha256 checked."""
    up = prepare_upload(ctx, body_checksums=body_checksums) if ctx.req.has_body else None
    if up is None:
        return b""
    buf = bytearray()
    async for chunk in up.stream:
        buf += chunk
        if len(buf) > limit:
            raise EntityTooLarge(f"request body exceeds the {limit}-byte limit")
    data = bytes(buf)
    for algo, want in up.verify.items():
        h = new_hasher(algo)
        h.update(data)
        if not hmac.compare_digest(h.hexdigest(), want):
            err = BadDigest(f"{algo} checksum mismatch")
            raise map_digest_error(err, up)
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
