"""S3 multipart upload operations over engine/multipart.py."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, AsyncIterator

import trio

from ... import multipart as mpu
from ... import versions
from ...errors import BadDigest, BadRequest, RangeNotSatisfiable
from ...errors import AisError
from ...meta import ObjectMeta
from ..server import Response
from . import xml
from .buckets import INITIATOR, OWNER, XML, s3_versioning, xml_response
from .chunked import S3_CHECKSUMS, b64_to_hex
from .common import (Ctx, check_conditions, checksum_headers, map_digest_error, prepare_upload, read_small_body,
                     sent_checksums, user_metadata)
from .errors import InvalidRequest
from .objects import copy_conditions, parse_copy_source, write_condition
from .xml import el, iso8601

if TYPE_CHECKING:
    from ...core import Engine

log = logging.getLogger("aisfs.s3")
# Completing an upload larger than this answers 200 at once and keeps the connection alive with spaces
# while the parts are copied (S3 does the same); below it, the answer carries x-amz-version-id as usual.
STREAM_ABOVE = 64 << 20
STREAM_ABOVE_VERSIONED = 1 << 30   # the version id header cannot precede the commit
KEEPALIVE_SECONDS = 5.0


def _algo(ctx: Ctx) -> str:
    """The upload's checksum algorithm, or "" for one outside S3_CHECKSUMS (not tracked)."""
    a = ctx.h("x-amz-checksum-algorithm").lower()
    return a if a in S3_CHECKSUMS else ""


def _full_object(ctx: Ctx, algo: str) -> bool:
    """Whether the upload's checksum is S3's FULL_OBJECT type (over all bytes) rather than COMPOSITE:
    CRC64NVME is only ever FULL_OBJECT, the SHAs only COMPOSITE, the CRC32s either (COMPOSITE by default)."""
    kind = ctx.h("x-amz-checksum-type").strip().upper()
    if kind not in ("", "FULL_OBJECT", "COMPOSITE"):
        raise InvalidRequest("x-amz-checksum-type must be FULL_OBJECT or COMPOSITE")
    if kind and not algo:
        raise InvalidRequest("x-amz-checksum-type needs x-amz-checksum-algorithm")
    full = kind == "FULL_OBJECT" or (not kind and algo == "crc64nvme")
    if (full and algo.startswith("sha")) or (not full and algo == "crc64nvme"):
        raise InvalidRequest(f"The {kind or 'COMPOSITE'} checksum type cannot be used with the {algo.upper()} "
                             "checksum algorithm.")
    return full


def _part_number(ctx: Ctx) -> int:
    try:
        return int(ctx.q.get("partNumber", ""))
    except ValueError:
        raise BadRequest("partNumber must be an integer") from None


async def create(eng: "Engine", ctx: Ctx) -> Response:
    custom, headers = user_metadata(ctx.req)
    algo = _algo(ctx)
    full = _full_object(ctx, algo)
    upload_id = await mpu.create(eng, ctx.bucket, ctx.key, content_type=ctx.h("content-type"), custom=custom,
                                 headers=headers, algo=algo, full_object=full)
    h = [("x-amz-checksum-algorithm", algo.upper()),
         ("x-amz-checksum-type", "FULL_OBJECT" if full else "COMPOSITE")] if algo else []
    return Response(200, [*XML, *h], xml.doc("InitiateMultipartUploadResult", [
        el("Bucket", ctx.bucket), el("Key", ctx.key), el("UploadId", upload_id)]))


async def upload_part(eng: "Engine", ctx: Ctx) -> Response:
    upload_id, number = ctx.q.get("uploadId", ""), _part_number(ctx)
    if ctx.h("x-amz-copy-source"):
        return await _upload_part_copy(eng, ctx, upload_id, number)
    up = prepare_upload(ctx)
    sent = [(k, v) for k, v in up.checksums.items()]
    algo = sent[0][0].removeprefix("x-amz-checksum-") if sent else ""
    if not algo and up.trailer:
        algo = up.trailer.lower().removeprefix("x-amz-checksum-")
        algo = algo if algo in S3_CHECKSUMS else ""
    try:
        part = await mpu.upload_part(eng, ctx.bucket, ctx.key, upload_id, number, up.stream, size=up.size,
                                     verify=up.verify, checksum_algo=algo, checksum=sent[0][1] if sent else "")
    except BadDigest as e:
        raise map_digest_error(e, up) from None
    h = [("etag", f'"{part.md5}"')]
    if part.checksum and algo:
        h.append((f"x-amz-checksum-{algo}", part.checksum))
    return Response(200, h, b"")


async def _upload_part_copy(eng: "Engine", ctx: Ctx, upload_id: str, number: int) -> Response:
    sb, sk, svid = parse_copy_source(ctx.h("x-amz-copy-source"))
    with await versions.open(eng, sb, sk, svid) as reader:
        m = reader.meta
        check_conditions(copy_conditions(ctx), m, copy_source=True)
        off, n = 0, m.size
        if rng := ctx.h("x-amz-copy-source-range"):
            spec = rng.strip().removeprefix("bytes=")
            first, sep, last = spec.partition("-")
            try:
                off, end = int(first), int(last)
            except ValueError:
                raise InvalidRequest("x-amz-copy-source-range must be bytes=first-last") from None
            if not sep or off > end or end >= m.size:
                raise RangeNotSatisfiable(f"the range {rng} is not satisfiable", size=m.size)
            n = end - off + 1
        part = await mpu.upload_part_copy(eng, ctx.bucket, ctx.key, upload_id, number, reader, off, n)
    h = [("x-amz-copy-source-version-id", svid)] if svid else []
    ck = [el(f"Checksum{part.algo.upper()}", part.checksum)] if part.algo else []
    return Response(200, [*XML, *h], xml.doc("CopyPartResult", [
        el("LastModified", iso8601(part.mtime_ns)), el("ETag", f'"{part.md5}"'), *ck]))



async def complete(eng: "Engine", ctx: Ctx) -> Response:
    cond = write_condition(ctx)
    root = xml.parse(await read_small_body(ctx, xml.MAX_XML, body_checksums=False))
    if root.tag != "CompleteMultipartUpload":
        raise xml.MalformedXML("expected a <CompleteMultipartUpload> document")
    wanted, part_sums = [], {}
    for p in root.findall("Part"):
        try:
            num = int(xml.text(p, "PartNumber"))
        except ValueError:
            raise xml.MalformedXML("PartNumber must be an integer") from None
        wanted.append((num, xml.text(p, "ETag")))
        part_sums[num] = {algo: v for algo in S3_CHECKSUMS if (v := xml.text(p, f"Checksum{algo.upper()}"))}
    # x-amz-checksum-<algo> here is the whole object's (a COMPOSITE "-N" value is not checked)
    claims = {a: b64_to_hex(v, a) for a, v in sent_checksums(ctx).items() if "-" not in v}
    c = mpu.check_complete(eng, ctx.bucket, ctx.key, ctx.q.get("uploadId", ""), wanted, cond=cond, verify=claims,
                           part_checksums=part_sums)
    versioned = bool(s3_versioning(eng.bucket_props(ctx.bucket)))
    if c.size > (STREAM_ABOVE_VERSIONED if versioned else STREAM_ABOVE):
        return Response(200, list(XML), _streamed(eng, ctx, c))
    async for _ in mpu.assemble(eng, c):
        pass
    assert c.meta is not None
    h = [("x-amz-version-id", c.meta.vid)] if versioned or c.meta.vid != "null" else []
    return Response(200, [*XML, *h], xml.doc("CompleteMultipartUploadResult", _result(ctx, c.meta)))


def _result(ctx: Ctx, m: ObjectMeta) -> list[str]:
    out = [el("Location", f"/{ctx.bucket}/{ctx.key}"), el("Bucket", ctx.bucket), el("Key", ctx.key),
           el("ETag", f'"{m.etag}"')]
    for name, value in checksum_headers(m):   # ChecksumCRC64NVME ... then ChecksumType
        tag = name.removeprefix("x-amz-checksum-")
        out.append(el("ChecksumType", value) if tag == "type" else el(f"Checksum{tag.upper()}", value))
    return out


async def _streamed(eng: "Engine", ctx: Ctx, c: mpu.Completion) -> AsyncIterator[bytes]:
    """S3's answer to a long completion: 200 at once, a space every few seconds while the parts are
    copied, then the result, or an <Error> document (which SDKs look for in a 200 here)."""
    yield xml.HEAD.encode()
    last = trio.current_time()
    try:
        async for _ in mpu.assemble(eng, c):
            if trio.current_time() - last >= KEEPALIVE_SECONDS:
                last = trio.current_time()
                yield b" "
        assert c.meta is not None
        yield xml.doc("CompleteMultipartUploadResult", _result(ctx, c.meta))[len(xml.HEAD):]
    except Exception as e:
        if not isinstance(e, AisError):
            log.exception("S3 CompleteMultipartUpload of %s/%s failed", ctx.bucket, ctx.key)
            e = AisError(f"internal error: {type(e).__name__}: {e}")
        yield xml.doc("Error", [el("Code", e.code), el("Message", e.message),
                                el("Resource", ctx.req.raw_path)], ns=False)[len(xml.HEAD):]


async def abort(eng: "Engine", ctx: Ctx) -> Response:
    await mpu.abort(eng, ctx.bucket, ctx.key, ctx.q.get("uploadId", ""))
    return Response(204, [], b"")


def _int_param(ctx: Ctx, name: str, default: int, hi: int) -> int:
    v = ctx.q.get(name, "")
    if not v:
        return default
    try:
        n = int(v)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if n < 0:
        raise BadRequest(f"{name} must not be negative")
    return min(n, hi)


async def list_parts(eng: "Engine", ctx: Ctx) -> Response:
    upload_id = ctx.q.get("uploadId", "")
    after = _int_param(ctx, "part-number-marker", 0, mpu.MAX_PARTS)
    limit = _int_param(ctx, "max-parts", 1000, 1000)
    up, parts, truncated = await mpu.list_parts(eng, ctx.bucket, ctx.key, upload_id, after=after, limit=max(limit, 1))
    algo = up.meta.get("algo") or ""
    out = [el("Bucket", ctx.bucket), el("Key", ctx.key), el("UploadId", upload_id),
           el("PartNumberMarker", after), el("MaxParts", limit), el("IsTruncated", "true" if truncated else "false"),
           INITIATOR, OWNER,
           el("StorageClass", "STANDARD")]
    if truncated and parts:
        out.append(el("NextPartNumberMarker", parts[-1].number))
    if algo:
        out.append(el("ChecksumAlgorithm", algo.upper()))
    for p in parts:
        ck = el(f"Checksum{algo.upper()}", p.checksum) if algo and p.checksum else ""
        out.append(f"<Part>{el('PartNumber', p.number)}{el('LastModified', iso8601(p.mtime_ns))}"
                   f"{el('ETag', chr(34) + p.md5 + chr(34))}{el('Size', p.size)}{ck}</Part>")
    return xml_response("ListPartsResult", out)


async def list_uploads(eng: "Engine", ctx: Ctx) -> Response:
    q = ctx.q
    prefix = q.get("prefix", "")
    km, im = q.get("key-marker", ""), q.get("upload-id-marker", "")
    limit = _int_param(ctx, "max-uploads", 1000, 1000)
    ups, truncated = mpu.list_uploads(eng, ctx.bucket, prefix=prefix, key_marker=km, id_marker=im, limit=max(limit, 1))
    out = [el("Bucket", ctx.bucket), el("KeyMarker", km), el("UploadIdMarker", im), el("Prefix", prefix),
           el("MaxUploads", limit), el("IsTruncated", "true" if truncated else "false")]
    if truncated and ups:
        out += [el("NextKeyMarker", ups[-1].key), el("NextUploadIdMarker", ups[-1].upload_id)]
    for u in ups:
        out.append(f"<Upload>{el('Key', u.key)}{el('UploadId', u.upload_id)}"
                   f"{INITIATOR}{OWNER}{el('StorageClass', 'STANDARD')}{el('Initiated', iso8601(u.created_ns))}</Upload>")
    return xml_response("ListMultipartUploadsResult", out)
