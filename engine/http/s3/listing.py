"""ListObjects (v1 and v2) and ListObjectVersions: real pages, any delimiter, `encoding-type=url`."""
from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from urllib.parse import quote

from ... import versions
from ...errors import BadRequest
from ...meta import ListEntry
from ..server import Response
from .buckets import OWNER, xml_response
from .common import Ctx
from .xml import el, esc, iso8601

if TYPE_CHECKING:
    from ...core import Engine

MAX_KEYS = 1000


def _max_keys(ctx: Ctx) -> int:
    v = ctx.q.get("max-keys", "")
    if not v:
        return MAX_KEYS
    try:
        n = int(v)
    except ValueError:
        raise BadRequest("max-keys must be an integer") from None
    if n < 0:
        raise BadRequest("max-keys must not be negative")
    return min(n, MAX_KEYS)


def _encoder(ctx: Ctx):  # type: ignore[no-untyped-def]
    """`encoding-type=url`: names are percent-encoded ('+' too, since clients decode with unquote_plus)."""
    enc = ctx.q.get("encoding-type", "")
    if enc and enc != "url":
        raise BadRequest("encoding-type must be url")
    if enc:
        return lambda s: quote(s, safe="/-_.~")
    return lambda s: s


# An object in a listing: (key, mtime in ns, ETag, size), list_rows' row for these fields; a folded
# directory (CommonPrefixes) is its prefix alone.
CONTENTS_FIELDS = ("mtime", "etag", "size")   # list_rows fields
Item = tuple[str, int, str, int] | str


def _contents(item: tuple[str, int, str, int], e, owner: bool) -> str:  # type: ignore[no-untyped-def]
    """One object's <Contents>, in one f-string (a thousand a page: `el` per member cost twice as much)."""
    name, mtime_ns, etag, size = item
    return (f"<Contents><Key>{esc(e(name))}</Key><LastModified>{iso8601(mtime_ns)}</LastModified>"
            f"<ETag>&quot;{esc(etag)}&quot;</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass>"
            f"{OWNER if owner else ''}</Contents>")


def _item(ent: ListEntry) -> Item:
    return ent.name if ent.is_dir else (ent.name, ent.mtime_ns, ent.etag, ent.size)


def _name(item: Item) -> str:
    return item if isinstance(item, str) else item[0]


def _listing_flags(delim: str, url_encoded: bool, truncated: bool, e) -> list[str]:  # type: ignore[no-untyped-def]
    """Delimiter, EncodingType and IsTruncated, in S3's order, shared by every listing answer."""
    out = [el("Delimiter", e(delim))] if delim else []
    if url_encoded:
        out.append(el("EncodingType", "url"))
    return out + [el("IsTruncated", "true" if truncated else "false")]


def encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8", "surrogatepass")).decode()


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("The continuation token provided is incorrect") from None


async def list_objects(eng: "Engine", ctx: Ctx) -> Response:
    q = ctx.q
    v2 = q.get("list-type") == "2"
    prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
    max_keys = _max_keys(ctx)
    e = _encoder(ctx)
    if v2:
        token_in = q.get("continuation-token", "")
        start_after = q.get("start-after", "")
        token = decode_token(token_in) if token_in else ""
    else:
        start_after, token = "", q.get("marker", "")
    entries: list[Item] = []
    truncated = False
    where = {"prefix": prefix, "start_after": start_after, "token": token, "page_size": max_keys + 1}
    if max_keys and not delim:  # straight from index rows: no ListEntry per key
        entries = (await eng.list_rows(ctx.bucket, fields=CONTENTS_FIELDS, **where))[0]
    elif max_keys:
        entries = [_item(ent) for ent in (await eng.list_objects(ctx.bucket, delimiter=delim, full=False,
                                                                 **where)).entries]
    else:
        eng.bucket_props(ctx.bucket)
    if len(entries) > max_keys:
        entries, truncated = entries[:max_keys], True
    owner = not v2 or q.get("fetch-owner") == "true"
    parts = [el("Name", ctx.bucket), el("Prefix", e(prefix)), el("MaxKeys", max_keys)]
    parts += _listing_flags(delim, bool(q.get("encoding-type")), truncated, e)
    if v2:
        parts.append(el("KeyCount", len(entries)))
        if token_in:
            parts.append(el("ContinuationToken", token_in))
        if start_after:
            parts.append(el("StartAfter", e(start_after)))
        if truncated:
            parts.append(el("NextContinuationToken", encode_token(_name(entries[-1]))))
    else:
        parts.append(el("Marker", e(token)))
        if truncated:
            parts.append(el("NextMarker", e(_name(entries[-1]))))
    for item in entries:
        if isinstance(item, str):
            parts.append(f"<CommonPrefixes>{el('Prefix', e(item))}</CommonPrefixes>")
        else:
            parts.append(_contents(item, e, owner))
    return xml_response("ListBucketResult", parts)


async def list_versions(eng: "Engine", ctx: Ctx) -> Response:
    q = ctx.q
    prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, vid_marker = q.get("key-marker", ""), q.get("version-id-marker", "")
    max_keys = _max_keys(ctx)
    e = _encoder(ctx)
    entries, truncated, next_key, next_vid = versions.list_versions(
        eng, ctx.bucket, prefix=prefix, key_marker=key_marker, vid_marker=vid_marker, limit=max_keys,
        delimiter=delim) if max_keys else ([], False, "", "")
    parts = [el("Name", ctx.bucket), el("Prefix", e(prefix)), el("KeyMarker", e(key_marker)),
             el("VersionIdMarker", vid_marker), el("MaxKeys", max_keys)]
    parts += _listing_flags(delim, bool(q.get("encoding-type")), truncated, e)
    if truncated:
        parts.append(el("NextKeyMarker", e(next_key)))
        if next_vid:
            parts.append(el("NextVersionIdMarker", next_vid))
    for ent in entries:
        if isinstance(ent, str):
            parts.append(f"<CommonPrefixes>{el('Prefix', e(ent))}</CommonPrefixes>")
            continue
        m = ent.meta
        common = (f"{el('Key', e(m.key))}{el('VersionId', m.vid)}{el('IsLatest', 'true' if ent.latest else 'false')}"
                  f"{el('LastModified', iso8601(m.mtime_ns))}")
        if ent.marker:
            parts.append(f"<DeleteMarker>{common}{OWNER}</DeleteMarker>")
        else:
            parts.append(f"<Version>{common}{el('ETag', chr(34) + m.etag + chr(34))}{el('Size', m.size)}"
                         f"{el('StorageClass', 'STANDARD')}{OWNER}</Version>")
    return xml_response("ListVersionsResult", parts)
