"""S3 routing: addressing (path-style under `/s3` and `/`, virtual-hosted), authentication,
dispatch to the handlers, and the one mapping of engine errors to S3 XML."""
from __future__ import annotations

import itertools
import logging
import secrets
from typing import TYPE_CHECKING

from ...errors import AisError, NotImplementedYet, RangeNotSatisfiable
from ..server import Request, Response
from . import buckets, listing, multipart, objects
from .auth import Authenticator, host_bucket
from .common import Ctx, refuse_unkept
from .errors import MethodNotAllowed, NotModified
from .xml import doc, el

if TYPE_CHECKING:
    from ...core import Engine

log = logging.getLogger("aisfs.s3")

# Sub-resources S3 has and this server does not implement: always S3's NotImplemented (501).
UNSUPPORTED = frozenset((
    "accelerate", "analytics", "cors", "encryption", "intelligent-tiering", "inventory", "legal-hold",
    "lifecycle", "logging", "metrics", "notification", "object-lock", "ownershipControls", "policy",
    "policyStatus", "publicAccessBlock", "replication", "requestPayment", "restore", "retention", "select",
    "tagging", "torrent", "website", "renameObject"))
# Engine codes that are not S3 codes.
S3_CODES = {"NotFound": "NoSuchKey", "MalformedRequest": "InvalidRequest", "InvalidObjectName": "InvalidArgument",
            "ObjectCorrupted": "InternalError", "MountpathUnavailable": "ServiceUnavailable",
            "Conflict": "OperationAborted", "ObjectAlreadyExists": "OperationAborted", "DataDirInUse": "InternalError",
            "DataDirFormat": "InternalError"}


# AWS's own words for the commonest errors (clients show them as they are); other codes keep the engine's
AWS_MESSAGES = {"NoSuchBucket": "The specified bucket does not exist",
                "NoSuchKey": "The specified key does not exist."}


def error_response(err: AisError, resource: str, request_id: str, head: bool = False,
                   address: tuple[str, str] | None = None) -> Response:
    """S3's error document; `address` (bucket, key) names what was not found, as S3 does in <BucketName> and
    <Key>, when the request has one (a copy's missing source is not the request's address)."""
    code = S3_CODES.get(err.code, err.code)
    headers = [("content-type", "application/xml"), ("x-amz-request-id", request_id)]
    if isinstance(err, RangeNotSatisfiable):
        headers.append(("content-range", f"bytes */{err.size}"))
    if err.details.get("delete_marker"):
        headers += [("x-amz-delete-marker", "true"), ("x-amz-version-id", str(err.details.get("version_id", "")))]
    if err.status == 304:
        return Response(304, headers[1:], b"")
    fields = [el("Code", code), el("Message", AWS_MESSAGES.get(code, err.message))]
    if address is not None and code == "NoSuchBucket":
        fields.append(el("BucketName", address[0]))
    elif address is not None and code == "NoSuchKey" and address[1]:
        fields.append(el("Key", address[1]))
    body = doc("Error", [*fields, el("Resource", resource), el("RequestId", request_id)], ns=False)
    if head:  # HEAD answers carry no body: clients read the status alone
        return Response(err.status, headers, b"", head=True)
    return Response(err.status, headers, body)


class S3Face:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.auth = Authenticator(engine)
        # Request ids: a random 32-bit start per process, then counted (a random id per request cost
        # a getrandom(2) call on every request).
        self._request_ids = itertools.count(secrets.randbits(32) << 32)

    async def handle(self, req: Request) -> Response:
        request_id = f"{next(self._request_ids) & 0xFFFFFFFFFFFFFFFF:016X}"
        resource = req.raw_path
        try:
            resp = await self._route(req)
            resp.headers.append(("x-amz-request-id", request_id))
            return resp
        except AisError as e:
            if not isinstance(e, NotModified) and e.status < 500:
                log.info("S3 %s %s: %s %s", req.method, req.raw_path, e.code, e.message)
            address = None if req.header("x-amz-copy-source") else self._address(req)
            return error_response(e, resource, request_id, head=req.method == "HEAD", address=address)
        except Exception as e:
            log.exception("S3 %s %s failed", req.method, req.raw_path)
            err = AisError(f"internal error: {type(e).__name__}: {e}")
            return error_response(err, resource, request_id, head=req.method == "HEAD")

    def _address(self, req: Request) -> tuple[str, str]:
        """(bucket, key) from the Host (virtual-hosted style) or the path (path-style)."""
        path = req.path
        if path == "/s3" or path.startswith("/s3/"):
            path = path[3:] or "/"
        if bucket := host_bucket(req, self.engine.config.doc["s3"]):
            return bucket, path[1:]
        bucket, _, key = path[1:].partition("/")
        return bucket, key

    async def _route(self, req: Request) -> Response:
        ident = self.auth.authenticate(req)
        bucket, key = self._address(req)
        ctx = Ctx(req, ident, bucket, key, dict(req.query_items))
        q, m = ctx.q, req.method
        if unsupported := UNSUPPORTED.intersection(q):
            raise NotImplementedYet(f"{m} ?{sorted(unsupported)[0]} is not implemented by this server")
        if not bucket:
            if m == "GET":
                return await buckets.list_buckets(self.engine, ctx)
            raise MethodNotAllowed(f"{m} is not allowed on the service")
        if not key:
            return await self._bucket(ctx)
        return await self._object(ctx)

    async def _bucket(self, ctx: Ctx) -> Response:
        eng, q, m = self.engine, ctx.q, ctx.req.method
        if m == "GET":
            if "location" in q:
                return await buckets.get_location(eng, ctx)
            if "versioning" in q:
                return await buckets.get_versioning(eng, ctx)
            if "acl" in q:
                return await buckets.get_acl(eng, ctx)
            if "uploads" in q:
                return await multipart.list_uploads(eng, ctx)
            if "versions" in q:
                return await listing.list_versions(eng, ctx)
            return await listing.list_objects(eng, ctx)
        if m == "PUT":
            if "versioning" in q:
                return await buckets.put_versioning(eng, ctx)
            if "acl" in q:
                return await buckets.put_acl(eng, ctx)
            refuse_unkept(ctx)
            return await buckets.create_bucket(eng, ctx)
        if m == "HEAD":
            return await buckets.head_bucket(eng, ctx)
        if m == "DELETE":
            return await buckets.delete_bucket(eng, ctx)
        if m == "POST" and "delete" in q:
            return await objects.delete_objects(eng, ctx)
        if m == "POST":
            raise NotImplementedYet("browser-form POST uploads are not implemented")
        raise MethodNotAllowed(f"{m} is not allowed on a bucket")

    async def _object(self, ctx: Ctx) -> Response:
        eng, q, m = self.engine, ctx.q, ctx.req.method
        eng.bucket_props(ctx.bucket)  # NoSuchBucket before anything else
        if m in ("GET", "HEAD"):
            if "uploadId" in q and m == "GET":
                return await multipart.list_parts(eng, ctx)
            if "acl" in q and m == "GET":
                return await buckets.get_acl(eng, ctx)
            if "attributes" in q and m == "GET":
                return await objects.get_object_attributes(eng, ctx)
            return await objects.get_object(eng, ctx, head=m == "HEAD")
        if m == "PUT":
            if "acl" in q:
                return await buckets.put_acl(eng, ctx)
            refuse_unkept(ctx)
            if "uploadId" in q or "partNumber" in q:
                return await multipart.upload_part(eng, ctx)
            if ctx.h("x-amz-copy-source"):
                return await objects.copy_object(eng, ctx)
            return await objects.put_object(eng, ctx)
        if m == "DELETE":
            if "uploadId" in q:
                return await multipart.abort(eng, ctx)
            return await objects.delete_object(eng, ctx)
        if m == "POST":
            if "uploads" in q:
                refuse_unkept(ctx)
                return await multipart.create(eng, ctx)
            if "uploadId" in q:
                return await multipart.complete(eng, ctx)
            raise NotImplementedYet("this POST on an object is not implemented")
        raise MethodNotAllowed(f"{m} is not allowed on an object")

