"""S3 bucket operations: list, create, head, delete, location, versioning, canned ACL."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ... import versions
from ...bprops import ACCESS_HEAD, check_access
from ...errors import InvalidBucketName, NotImplementedYet
from ..server import Response
from . import xml
from .common import Ctx, read_small_body, refuse_unkept
from .xml import doc, el, esc

if TYPE_CHECKING:
    from ...core import Engine

XML = [("content-type", "application/xml")]
OWNER_ID = "aisfs"
OWNER = f"<Owner><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Owner>"
INITIATOR = OWNER.replace("Owner>", "Initiator>")   # of every multipart upload: the one owner
S3_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
VERSIONING_PROP = "s3"   # bucket prop versioning.s3: "" (never enabled), "Enabled" or "Suspended"


def s3_versioning(props: dict) -> str:
    return str(props.get("versioning", {}).get(VERSIONING_PROP, ""))


def xml_response(root: str, parts: list[str], status: int = 200) -> Response:
    return Response(status, list(XML), doc(root, parts))


async def list_buckets(eng: "Engine", ctx: Ctx) -> Response:
    items = [f"<Bucket>{el('Name', b['name'])}{el('CreationDate', xml.iso8601(int(b['created'] or 0)))}</Bucket>"
             for b in await eng.list_buckets()]
    return xml_response("ListAllMyBucketsResult", [OWNER, "<Buckets>", *items, "</Buckets>"])


async def create_bucket(eng: "Engine", ctx: Ctx) -> Response:
    name = ctx.bucket
    if not S3_BUCKET_NAME.fullmatch(name) or ".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        raise InvalidBucketName(f"The specified bucket is not valid: {name!r}")
    body = await read_small_body(ctx, 64 * 1024)
    if body.strip():
        xml.parse(body)  # LocationConstraint is accepted whatever it names: one node, one region
    checksum = eng.config.doc["s3"]["default_checksum"]
    await eng.create_bucket(name, {"checksum.type": checksum})
    return Response(200, [("location", f"/{name}")], b"")


async def head_bucket(eng: "Engine", ctx: Ctx) -> Response:
    props = eng.bucket_props(ctx.bucket)
    check_access(props, ACCESS_HEAD, ctx.bucket)
    return Response(200, [("x-amz-bucket-region", eng.config.doc["s3"]["region"])], b"", head=True)


async def delete_bucket(eng: "Engine", ctx: Ctx) -> Response:
    props = eng.bucket_props(ctx.bucket)
    versions.check_empty(eng, ctx.bucket, props)
    await eng.destroy_bucket(ctx.bucket, force=False)   # drops unfinished uploads too
    return Response(204, [], b"")


async def get_location(eng: "Engine", ctx: Ctx) -> Response:
    eng.bucket_props(ctx.bucket)
    region = eng.config.doc["s3"]["region"]
    text = "" if region == "us-east-1" else esc(region)
    return Response(200, list(XML), xml.HEAD.encode() +
                    f'<LocationConstraint xmlns="{xml.XMLNS}">{text}</LocationConstraint>'.encode())


async def get_versioning(eng: "Engine", ctx: Ctx) -> Response:
    status = s3_versioning(eng.bucket_props(ctx.bucket))
    return xml_response("VersioningConfiguration", [el("Status", status)] if status else [])


async def put_versioning(eng: "Engine", ctx: Ctx) -> Response:
    eng.bucket_props(ctx.bucket)
    root = xml.parse(await read_small_body(ctx, 64 * 1024))
    status = xml.text(root, "Status")
    if root.tag != "VersioningConfiguration" or status not in ("Enabled", "Suspended"):
        raise xml.MalformedXML("expected <VersioningConfiguration><Status>Enabled|Suspended</Status>")
    await eng.set_bucket_props(ctx.bucket, {f"versioning.{VERSIONING_PROP}": status})
    return Response(200, [], b"")


async def put_acl(eng: "Engine", ctx: Ctx) -> Response:
    """PutBucketAcl / PutObjectAcl: the one ACL there is (the owner's FULL_CONTROL: canned `private`) may be
    set again, so tools that set it explicitly succeed (`s3cmd setacl --acl-private`); any other grant is
    refused rather than ignored."""
    eng.bucket_props(ctx.bucket)
    if ctx.key:
        await versions.head(eng, ctx.bucket, ctx.key, ctx.q.get("versionId", ""))
    refuse_unkept(ctx)   # grants and public canned ACLs
    refused = NotImplementedYet("only the private ACL is supported: every bucket and object is private to its "
                                "owner")
    if ctx.h("x-amz-acl") not in ("", "private"):
        raise refused
    body = await read_small_body(ctx, 64 * 1024)
    if body:
        for grant in xml.parse(body).iter("Grant"):
            grantee = grant.find("Grantee")
            if xml.text(grant, "Permission") != "FULL_CONTROL" or xml.text(grantee, "ID") != OWNER_ID:
                raise refused
    return Response(200, [], b"")


async def get_acl(eng: "Engine", ctx: Ctx) -> Response:
    """The canned answer: the owner has FULL_CONTROL, nobody else has anything."""
    eng.bucket_props(ctx.bucket)
    if ctx.key:
        await versions.head(eng, ctx.bucket, ctx.key, ctx.q.get("versionId", ""))   # NoSuchKey, as S3
    grant = ('<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
             f'xsi:type="CanonicalUser"><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Grantee>'
             "<Permission>FULL_CONTROL</Permission></Grant></AccessControlList>")
    return xml_response("AccessControlPolicy", [OWNER, grant])
