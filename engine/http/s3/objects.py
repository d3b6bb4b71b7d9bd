"""S3 object operations: Put, Get/Head (ranges, parts, conditions, overrides), Delete,
DeleteObjects and CopyObject."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ... import multipart as mpu
from ... import versions
from ...errors import AisError, BadDigest, BadRequest
from ...objects import WriteCondition
from ...ranges import parse_range
from ..server import FileBody, Response, http_date
from . import xml
from .buckets import XML, s3_versioning, xml_response
from .common import (Ctx, check_conditions, checksum_headers, latin1, map_digest_error,
                     object_headers, prepare_upload, read_small_body, user_metadata)
from .errors import InvalidRequest
from .xml import el

if TYPE_CHECKING:
    from ...core import Engine

OVERRIDES = ("content-type", "content-language", "expires", "cache-control", "content-disposition",
             "content-encoding")
MAX_DELETE = 1000


def write_condition(ctx: Ctx) -> WriteCondition | None:
    """If-None-Match: * / If-Match: ETag on PutObject, CopyObject (its destination) and CompleteMultipartUpload."""
    return WriteCondition.from_headers(ctx.h("if-match"), ctx.h("if-none-match"))


async def put_object(eng: "Engine", ctx: Ctx) -> Response:
    cond = write_condition(ctx)
    custom, headers = user_metadata(ctx.req)
    # The checksums land in the stored headers, a trailing one as the body ends: before the commit, so
    # the object never shows without it (nor can a later update stamp it onto a newer version).
    up = prepare_upload(ctx, into=headers)
    try:
        m = await eng.put_object(ctx.bucket, ctx.key, up.stream, size=up.size,
                                 content_type=ctx.h("content-type"), custom=custom, headers=headers,
                                 verify=up.verify, cond=cond)
    except BadDigest as e:
        raise map_digest_error(e, up) from None
    h = [("etag", f'"{m.etag}"'), *checksum_headers(m)]
    if s3_versioning(eng.bucket_props(ctx.bucket)) or m.vid != "null":
        h.append(("x-amz-version-id", m.vid))
    return Response(200, h, b"")


async def get_object(eng: "Engine", ctx: Ctx, *, head: bool) -> Response:
    q, hdr = ctx.q, ctx.req.headers
    vid = q.get("versionId", "")
    if head:
        m = await versions.head(eng, ctx.bucket, ctx.key, vid)
        reader = None
    else:
        reader = await versions.open(eng, ctx.bucket, ctx.key, vid)
        m = reader.meta
    try:
        check_conditions(hdr, m)
        versioned = bool(s3_versioning(eng.bucket_props(ctx.bucket)))
        headers = object_headers(m, versioned=versioned)
        for name in OVERRIDES:
            if v := q.get(f"response-{name}"):
                headers = [(k, val) for k, val in headers if k != name] + [(name, latin1(v))]
        size = m.size
        rng = None
        if pn := q.get("partNumber"):
            try:
                part = int(pn)
            except ValueError:
                raise BadRequest("partNumber must be an integer") from None
            off, n, count = mpu.part_range(m, part)
            rng = (off, n)
            headers.append(("x-amz-mp-parts-count", str(count)))
        elif r := parse_range(hdr.get("range"), size, whole_if_multi=True):
            rng = r
        elif hdr.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers += checksum_headers(m)
        if rng is None:
            status, off, n = 200, 0, size
        else:
            off, n = rng
            status = 206
            headers.append(("content-range", f"bytes {off}-{off + n - 1}/{size}" if n else f"bytes */{size}"))
        if head:
            return Response(status, [*headers, ("content-length", str(n))], None, head=True)
        assert reader is not None
        return Response(status, headers, FileBody(reader.fd, off, n, reader.close))
    except BaseException:
        if reader is not None:
            reader.close()
        raise


OBJECT_ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


async def get_object_attributes(eng: "Engine", ctx: Ctx) -> Response:
    """GetObjectAttributes: the attributes named in x-amz-object-attributes, of the current version or
    `versionId`, without the data. The ETag is unquoted here, as S3 sends it in this one response."""
    wanted = {a.strip() for a in ctx.h("x-amz-object-attributes").split(",") if a.strip()}
    if not wanted or not wanted <= set(OBJECT_ATTRIBUTES):
        raise BadRequest(f"x-amz-object-attributes must name some of {', '.join(OBJECT_ATTRIBUTES)}")
    vid = ctx.q.get("versionId", "")
    m = await versions.head(eng, ctx.bucket, ctx.key, vid)
    parts: list[str] = []
    if "ETag" in wanted:
        parts.append(el("ETag", m.etag))
    if "Checksum" in wanted and (sums := checksum_headers(m)):
        parts.append("<Checksum>" + "".join(el(f"Checksum{k[len('x-amz-checksum-'):].upper()}", v)
                                            for k, v in sums) + "</Checksum>")
    if "ObjectParts" in wanted and mpu.LAYOUT in m.headers:
        parts.append(f"<ObjectParts>{el('PartsCount', mpu.part_range(m, 1)[2])}</ObjectParts>")
    if "StorageClass" in wanted:
        parts.append(el("StorageClass", "STANDARD"))
    if "ObjectSize" in wanted:
        parts.append(el("ObjectSize", m.size))
    h = [("last-modified", http_date(m.mtime_ns / 1e9))]
    if s3_versioning(eng.bucket_props(ctx.bucket)) or m.vid != "null":
        h.append(("x-amz-version-id", m.vid))
    resp = xml_response("GetObjectAttributesResponse", parts)
    resp.headers += h
    return resp


async def delete_object(eng: "Engine", ctx: Ctx) -> Response:
    vid = ctx.q.get("versionId", "")
    res = await versions.delete(eng, ctx.bucket, ctx.key, vid)
    h = []
    if res.marker:
        h.append(("x-amz-delete-marker", "true"))
    if res.vid:
        h.append(("x-amz-version-id", res.vid))
    return Response(204, h, b"")


async def delete_objects(eng: "Engine", ctx: Ctx) -> Response:
    eng.bucket_props(ctx.bucket)
    root = xml.parse(await read_small_body(ctx, xml.MAX_XML))
    if root.tag != "Delete":
        raise xml.MalformedXML("expected a <Delete> document")
    quiet = xml.text(root, "Quiet").strip().lower() == "true"
    objs = root.findall("Object")
    if not objs or len(objs) > MAX_DELETE:
        raise xml.MalformedXML(f"a <Delete> document names 1 to {MAX_DELETE} objects")
    items = [(xml.text(o, "Key"), xml.text(o, "VersionId")) for o in objs]
    out: list[str] = []
    for (key, vid), res in zip(items, await versions.delete_many(eng, ctx.bucket, items)):  # durable once
        vid_xml = el("VersionId", vid) if vid else ""
        if isinstance(res, AisError):
            from .face import S3_CODES
            out.append(f"<Error>{el('Key', key)}{vid_xml}{el('Code', S3_CODES.get(res.code, res.code))}"
                       f"{el('Message', res.message)}</Error>")
        elif not quiet:
            extra = el("DeleteMarker", "true") + el("DeleteMarkerVersionId", res.vid) if res.marker else ""
            out.append(f"<Deleted>{el('Key', key)}{vid_xml}{extra}</Deleted>")
    return xml_response("DeleteResult", out)


def parse_copy_source(value: str) -> tuple[str, str, str]:
    """`bucket/key[?versionId=v]`, URL-encoded, with or without a leading slash."""
    src, _, qs = value.partition("?")
    vid = ""
    if qs:
        for part in qs.split("&"):
            k, _, v = part.partition("=")
            if k == "versionId":
                vid = unquote(v)
    src = unquote(src).lstrip("/")
    bucket, _, key = src.partition("/")
    if not bucket or not key:
        raise InvalidRequest("x-amz-copy-source must be BUCKET/KEY")
    return bucket, key, vid


def copy_conditions(ctx: Ctx) -> dict[str, str]:
    return {k[len("x-amz-copy-source-"):]: v for k, v in ctx.req.headers.items()
            if k.startswith("x-amz-copy-source-if-")}


async def copy_object(eng: "Engine", ctx: Ctx) -> Response:
    sb, sk, svid = parse_copy_source(ctx.h("x-amz-copy-source"))
    cond = write_condition(ctx)
    src = await versions.head(eng, sb, sk, svid)
    check_conditions(copy_conditions(ctx), src, copy_source=True)
    directive = (ctx.h("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidRequest("x-amz-metadata-directive must be COPY or REPLACE")
    # A storage class named is a change S3 accepts (`rclone settier`); every object here is STANDARD.
    if directive == "COPY" and (sb, sk) == (ctx.bucket, ctx.key) and not svid and not ctx.h("x-amz-storage-class"):
        raise InvalidRequest("This copy request is illegal because it is trying to copy an object to itself "
                             "without changing the object's metadata, storage class, website redirect location "
                             "or encryption attributes.")
    kw: dict[str, Any] = {"cond": cond}
    if directive == "REPLACE":
        custom, headers = user_metadata(ctx.req)
        keep = {k: v for k, v in src.headers.items() if k.startswith("x-amz-checksum-")}
        kw |= {"content_type": ctx.h("content-type"), "custom": custom, "headers": {**headers, **keep}}
    m = await versions.copy(eng, sb, sk, svid, ctx.bucket, ctx.key, **kw)
    h = []
    if svid:
        h.append(("x-amz-copy-source-version-id", svid))
    if s3_versioning(eng.bucket_props(ctx.bucket)) or m.vid != "null":
        h.append(("x-amz-version-id", m.vid))
    body = xml.doc("CopyObjectResult", [el("LastModified", xml.iso8601(m.mtime_ns)), el("ETag", f'"{m.etag}"')])
    return Response(200, [*XML, *h], body)

