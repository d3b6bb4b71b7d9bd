"""REST client for aisfs's `/v1` API (docs/rest-api.md).

Every operation is written once, as a generator that yields `Req`s and receives their responses
(sans-I/O); `Client` drives them with a sync `httpx.Client` (the CLI) and `AsyncClient` with an
`httpx.AsyncClient` (the remote-mode mount, under trio or asyncio). Server errors come back as
the engine's own exceptions (`engine.errors`), so callers handle one hierarchy.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import (Any, AsyncIterable, AsyncIterator, Awaitable, Callable, Concatenate, Generator,
                    Iterable, Iterator, ParamSpec, TypeVar)

import anyio
import httpx

from engine import errors
from engine.checksum import Hasher, new_hasher
from engine.errors import AisError
from engine.http.apc import LS_NAME_ONLY, LS_NO_RECURSION
from engine.http.custom_md import format_custom_md, parse_custom_md

from .uri import bucket_uri, object_uri, quote_key, quote_segment

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
ENDPOINT_ENV = "AIS_ENDPOINT"
CHUNK = 1 << 20
MAX_WAIT_POLL = 10.0       # seconds one `GET /v1/jobs/ID?wait=` may hold the connection

T = TypeVar("T")
P = ParamSpec("P")


class EndpointUnreachable(AisError):
    """No answer from the server (refused, DNS, timeout): a client-side error in the same hierarchy."""

    status, code = 503, "EndpointUnreachable"


def resolve_endpoint(endpoint: str | None = None) -> str:
    """`--endpoint`, else `$AIS_ENDPOINT`, else the default; a bare `host:port` gets `http://`."""
    url = (endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


# Error mapping ---------------------------------------------------------------------------------
_BY_CODE: dict[str, type[AisError]] = {}


def _index_codes(cls: type[AisError]) -> None:
    _BY_CODE.setdefault(cls.code, cls)
    for sub in cls.__subclasses__():
        _index_codes(sub)


_index_codes(AisError)

# (status, the message starts with / contains, class); first match wins, messages lower-cased.
_BY_MESSAGE: list[tuple[int, str, str, type[AisError]]] = [
    (404, "startswith", "bucket", errors.BucketNotFound),
    (404, "startswith", "job", errors.JobNotFound),
    (404, "startswith", "version", errors.VersionNotFound),
    (404, "startswith", "object", errors.ObjectNotFound),
    (409, "startswith", "bucket", errors.BucketAlreadyExists),
    (409, "contains", "not empty", errors.BucketNotEmpty),
    (400, "contains", "checksum mismatch", errors.BadDigest),
    (400, "startswith", "bucket name", errors.InvalidBucketName),
    (400, "contains", "the limit is 1024", errors.KeyTooLong),
    (400, "startswith", "object name", errors.InvalidObjectName),
    (400, "startswith", "request body ended", errors.IncompleteBody),
    (500, "contains", "bad data checksum", errors.ObjectCorrupted),
    (500, "contains", "missing from its mountpath", errors.ObjectCorrupted),
]
# What a 404 means when the message does not say (e.g. HEAD has no body).
_NOT_FOUND_BY_WHAT: dict[str, type[AisError]] = {
    "bucket": errors.BucketNotFound, "object": errors.ObjectNotFound, "job": errors.JobNotFound}
_BY_STATUS: dict[int, type[AisError]] = {
    400: errors.BadRequest, 403: errors.AccessDenied, 404: errors.NotFound, 409: errors.Conflict,
    412: errors.PreconditionFailed, 416: errors.RangeNotSatisfiable, 501: errors.NotImplementedYet, 503: errors.MountpathUnavailable,
    507: errors.OutOfSpace}


def error_class(status: int, message: str, what: str = "", code: str = "") -> type[AisError]:
    """The engine exception class for a REST error: by `code` when the server sends one, else by
    status and the engine's message wording, else by what the request was about."""
    if code in _BY_CODE and _BY_CODE[code].status == status:
        return _BY_CODE[code]
    low = message.lower()
    for st, how, text, cls in _BY_MESSAGE:
        if st == status and (low.startswith(text) if how == "startswith" else text in low):
            return cls
    if status == 404 and what in _NOT_FOUND_BY_WHAT:
        return _NOT_FOUND_BY_WHAT[what]
    return _BY_STATUS.get(status, AisError)


def error_from_response(resp: httpx.Response, what: str = "") -> AisError:
    """Turn an error response (`{"message","status"}`, or anything else) into an engine exception."""
    message, code = "", ""
    with contextlib.suppress(ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        body = resp.json()
        if isinstance(body, dict):
            message, code = str(body.get("message") or ""), str(body.get("code") or "")
    if not message:
        with contextlib.suppress(UnicodeDecodeError, httpx.ResponseNotRead):
            message = resp.text.strip()[:500]
    message = " ".join((message or f"HTTP {resp.status_code} {resp.reason_phrase}").split())
    cls = error_class(resp.status_code, message, what, code)
    if cls is errors.RangeNotSatisfiable:
        # the object's size: from `Content-Range: bytes */SIZE`, else the engine's message
        total = resp.headers.get("Content-Range", "").rpartition("/")[2]
        found = re.search(r"object size (\d+)", message)
        size = int(total) if total.isdigit() else int(found.group(1)) if found else 0
        err: AisError = errors.RangeNotSatisfiable(message, size=size)
    else:
        err = cls(message)
    if cls is AisError:
        err.status = resp.status_code  # keep the real status for unexpected errors (502, ...)
    return err


def _unreachable(endpoint: str, exc: httpx.TransportError) -> EndpointUnreachable:
    """One line a user can act on, whatever httpx raised."""
    reason = " ".join((str(exc) or type(exc).__name__).split())
    if isinstance(exc, httpx.ConnectError) and "refused" in reason.lower():
        reason = "connection refused"
    elif isinstance(exc, httpx.TimeoutException):
        reason = f"timed out ({type(exc).__name__})"
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return EndpointUnreachable(f"cannot reach {endpoint}: {reason} (set --endpoint or {ENDPOINT_ENV})")
    return EndpointUnreachable(f"connection to {endpoint} failed: {reason}")


# Requests and results --------------------------------------------------------------------------
@dataclass
class Req:
    """One HTTP request of an operation; `raw` hands error responses back to the operation."""

    method: str
    path: str
    params: dict[str, str] | None = None
    json: Any = None
    headers: dict[str, str | bytes] | None = None
    content: Any = None
    what: str = ""                # "bucket" | "object" | "job": what a bare 404 means
    raw: bool = False
    timeout: float | None = None


@dataclass
class ObjectInfo:
    """An object's metadata from the HEAD / GET / PUT response headers."""

    bucket: str
    key: str
    size: int
    etag: str = ""
    content_type: str = ""
    last_modified: str = ""
    cksum_type: str = ""
    cksum_value: str = ""
    version: str = ""
    atime_ns: int = 0
    custom: dict[str, str] = field(default_factory=dict)
    length: int = -1              # GET: bytes in this response (the range's length); -1 otherwise

    @classmethod
    def from_headers(cls, bucket: str, key: str, h: httpx.Headers, size: int | None = None) -> "ObjectInfo":
        """`size` is the object's: given, else a 206's `Content-Range: bytes a-b/SIZE`, else Content-Length."""
        if size is None:
            total = h.get("Content-Range", "").rpartition("/")[2]
            size = int(total) if total.isdigit() else int(h.get("Content-Length", "0") or 0)
        atime = h.get("Ais-Atime", "")
        return cls(bucket=bucket, key=key, size=size, etag=h.get("ETag", "").strip('"'),
                   content_type=h.get("Content-Type", ""), last_modified=h.get("Last-Modified", ""),
                   cksum_type=h.get("Ais-Checksum-Type", ""), cksum_value=h.get("Ais-Checksum-Value", ""),
                   version=h.get("Ais-Version", ""), atime_ns=int(atime) if atime.isdigit() else 0,
                   custom=parse_custom_md(h.get("Ais-Custom-Md", "")))

    @property
    def uri(self) -> str:
        return object_uri(self.bucket, self.key)

    @property
    def mtime(self) -> float:
        """Last-Modified as Unix seconds (0 when absent)."""
        try:
            return parsedate_to_datetime(self.last_modified).timestamp()
        except (TypeError, ValueError):
            return 0.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.key, "bucket": self.bucket, "size": self.size, "etag": self.etag,
                "content_type": self.content_type, "last_modified": self.last_modified,
                "checksum": {"type": self.cksum_type, "value": self.cksum_value}, "version": self.version,
                "atime": self.atime_ns, "custom": self.custom}


def _range_header(offset: int, length: int | None) -> dict[str, str]:
    if offset == 0 and length is None:
        return {}
    if length is not None and length <= 0:
        raise errors.BadRequest("range length must be positive")
    end = "" if length is None else str(offset + length - 1)
    return {"Range": f"bytes={offset}-{end}"}


def _bpath(bucket: str) -> str:
    return f"/v1/buckets/{quote_segment(bucket)}"


def _opath(bucket: str, key: str) -> str:
    return f"/v1/objects/{quote_segment(bucket)}/{quote_key(key)}"


def _job_id(resp: httpx.Response) -> str:
    """Job-starting actions answer with the id as text (tolerate a JSON string too)."""
    text = resp.text.strip()
    if text.startswith('"'):
        with contextlib.suppress(ValueError):
            return str(json.loads(text))
    return text


# Operations: generators of Req, written once for both clients ------------------------------------
Op = Generator[Req, httpx.Response, T]


class ops:
    """The REST API's operations (docs/rest-api.md); each yields its requests and returns a result."""

    @staticmethod
    def health() -> Op[dict[str, Any]]:
        """Server liveness: `{"status": "ok"}`."""
        return (yield Req("GET", "/v1/health")).json()

    @staticmethod
    def get_config() -> Op[dict[str, Any]]:
        """The cluster config (nested sections plus `version`)."""
        return (yield Req("GET", "/v1/daemon", params={"what": "config"})).json()

    @staticmethod
    def set_config(updates: dict[str, Any]) -> Op[dict[str, Any]]:
        """Apply dotted (`checksum.type`) or nested updates; returns the new config."""
        return (yield Req("PUT", "/v1/cluster", json={"action": "set-config", "value": updates})).json()

    @staticmethod
    def daemon(what: str) -> Op[Any]:
        """`stats`, `mountpaths` or `capacity` of the node."""
        return (yield Req("GET", "/v1/daemon", params={"what": what})).json()

    @staticmethod
    def list_buckets() -> Op[list[dict[str, Any]]]:
        return (yield Req("GET", "/v1/buckets")).json()

    @staticmethod
    def create_bucket(bucket: str, props: dict[str, Any] | None = None) -> Op[dict[str, Any]]:
        """Create `bucket` with optional props (nested or dotted keys); returns its props."""
        resp = yield Req("POST", _bpath(bucket), json={"action": "create-bck", "value": props or {}}, what="bucket")
        return resp.json() if resp.content else {}

    @staticmethod
    def head_bucket(bucket: str) -> Op[dict[str, Any]]:
        """The bucket's props; BucketNotFound when it does not exist."""
        resp = yield Req("HEAD", _bpath(bucket), what="bucket", raw=True)
        if resp.status_code == 404:
            raise errors.BucketNotFound(f"bucket \"{bucket_uri(bucket)}\" does not exist")
        if resp.is_error:
            raise error_from_response(resp, "bucket")
        return json.loads(resp.headers.get("Ais-Bucket-Props", "{}"))

    @staticmethod
    def bucket_summary(bucket: str) -> Op[dict[str, Any]]:
        """`{"name","provider","objects","size"}`."""
        return (yield Req("GET", _bpath(bucket), json={"action": "summary"}, what="bucket")).json()

    @staticmethod
    def list_objects(bucket: str, *, prefix: str = "", start_after: str = "", token: str = "", page_size: int = 0,
                     props: str = "", names_only: bool = False, no_recursion: bool = False) -> Op[dict[str, Any]]:
        """One page (LsoRes): `entries` and the `continuation_token` to pass for the next ("" at the end)."""
        flags = (LS_NAME_ONLY if names_only else 0) | (LS_NO_RECURSION if no_recursion else 0)
        msg: dict[str, Any] = {"prefix": prefix, "start_after": start_after, "continuation_token": token,
                               "props": props, "flags": str(flags)}
        if page_size:
            msg["pagesize"] = page_size
        return (yield Req("GET", _bpath(bucket), json={"action": "list", "value": msg}, what="bucket")).json()

    @staticmethod
    def set_bucket_props(bucket: str, updates: dict[str, Any]) -> Op[dict[str, Any]]:
        """Change some props (nested or dotted keys); returns the new props."""
        return (yield Req("PATCH", _bpath(bucket), json={"action": "set-bprops", "value": updates},
                          what="bucket")).json()

    @staticmethod
    def reset_bucket_props(bucket: str) -> Op[dict[str, Any]]:
        """Back to the cluster's defaults; returns the new props."""
        return (yield Req("PATCH", _bpath(bucket), json={"action": "reset-bprops"}, what="bucket")).json()

    @staticmethod
    def move_bucket(src: str, dst: str) -> Op[str]:
        """Rename a bucket; returns the job id."""
        return _job_id((yield Req("POST", _bpath(src), params={"bck_to": dst}, json={"action": "move-bck"},
                                  what="bucket")))

    @staticmethod
    def copy_bucket(src: str, dst: str, *, prefix: str = "", dry_run: bool = False) -> Op[str]:
        """Copy objects (under `prefix`) into `dst`, created if missing; returns the job id."""
        body = {"action": "copy-bck", "value": {"prefix": prefix, "dry_run": dry_run}}
        return _job_id((yield Req("POST", _bpath(src), params={"bck_to": dst}, json=body, what="bucket")))

    @staticmethod
    def make_n_copies(bucket: str, copies: int) -> Op[str]:
        """Keep `copies` copies of every object on distinct mountpaths (1: mirroring off); returns the job id."""
        return _job_id((yield Req("POST", _bpath(bucket), json={"action": "make-n-copies", "value": copies},
                                  what="bucket")))

    @staticmethod
    def destroy_bucket(bucket: str) -> Op[None]:
        """Remove the bucket and all its objects."""
        yield Req("DELETE", _bpath(bucket), json={"action": "destroy-bck"}, what="bucket")

    @staticmethod
    def delete_objects(bucket: str, *, objnames: list[str] | None = None, template: str | None = None) -> Op[str]:
        """Multi-object delete by list or template (`shard-{0..9}`, a prefix, "" = all); returns the job id."""
        if (objnames is None) == (template is None):
            raise errors.BadRequest("give either a list of object names or a template")
        value: dict[str, Any] = {"objnames": objnames} if objnames is not None else {"template": template}
        return _job_id((yield Req("DELETE", _bpath(bucket), json={"action": "delete-listrange", "value": value},
                                  what="bucket")))

    @staticmethod
    def head_object(bucket: str, key: str) -> Op[ObjectInfo]:
        """Object metadata; tells a missing bucket (BucketNotFound) from a missing object."""
        resp = yield Req("HEAD", _opath(bucket, key), what="object", raw=True)
        if resp.status_code == 404:
            yield from ops.head_bucket(bucket)  # raises BucketNotFound when that is the cause
            raise errors.ObjectNotFound(f"object \"{object_uri(bucket, key)}\" does not exist")
        if resp.is_error:
            raise error_from_response(resp, "object")
        return ObjectInfo.from_headers(bucket, key, resp.headers)

    @staticmethod
    def get_bytes(bucket: str, key: str, offset: int = 0, length: int | None = None) -> Op[bytes]:
        """The object's bytes (or one range) in memory: for small reads, e.g. a mount's read()."""
        resp = yield Req("GET", _opath(bucket, key), headers=_range_header(offset, length), what="object")
        return resp.content

    @staticmethod
    def put_object(bucket: str, key: str, body: Any, *, size: int | None = None, content_type: str = "",
                   custom: dict[str, str] | None = None, checksum: tuple[str, str] | None = None) -> Op[ObjectInfo]:
        """Store `body` (bytes, or an iterable of chunks: sync for Client, async for AsyncClient).

        Give `size` for streams so the request carries Content-Length instead of chunked encoding;
        `checksum` = (type, hex) is verified by the server (BadDigest on mismatch).
        """
        headers: dict[str, str | bytes] = {}
        if size is not None:
            headers["Content-Length"] = str(size)
        if content_type:
            headers["Content-Type"] = content_type.encode()
        if custom:
            headers["Ais-Custom-Md"] = format_custom_md(custom).encode()  # UTF-8, as the server reads it
        if checksum:
            headers["Ais-Checksum-Type"], headers["Ais-Checksum-Value"] = checksum
        resp = yield Req("PUT", _opath(bucket, key), headers=headers, content=body, what="object")
        if size is None:
            size = len(body) if isinstance(body, (bytes, bytearray, memoryview)) else -1
        return ObjectInfo.from_headers(bucket, key, resp.headers, size=size)

    @staticmethod
    def delete_object(bucket: str, key: str) -> Op[None]:
        yield Req("DELETE", _opath(bucket, key), what="object")

    @staticmethod
    def rename_object(bucket: str, key: str, new_key: str) -> Op[None]:
        """Rename within the bucket."""
        yield Req("POST", _opath(bucket, key), json={"action": "rename-obj", "name": new_key}, what="object")

    @staticmethod
    def sync() -> Op[None]:
        """Make every change committed so far durable, whatever the server's write policy (a remote mount's
        fsync)."""
        yield Req("PUT", "/v1/daemon", json={"action": "sync"})

    @staticmethod
    def copy_object(bucket: str, key: str, dst_key: str, dst_bucket: str = "") -> Op[None]:
        """Copy to `dst_bucket` (default: the same bucket) as `dst_key`."""
        body = {"action": "copy-obj", "name": dst_key, "value": {"bucket": dst_bucket or bucket}}
        yield Req("POST", _opath(bucket, key), json=body, what="object")

    @staticmethod
    def rename_prefix(bucket: str, src: str, dst: str) -> Op[int]:
        """Move every object under `src` to `dst` in one server transaction; returns how many moved.

        Conflict when `dst` holds objects, BadRequest for overlapping prefixes, ObjectNotFound when `src` is empty,
        KeyTooLong when a moved name would pass 1024 bytes."""
        body = {"action": "rename-prefix", "name": src, "value": {"to": dst}}
        return int((yield Req("POST", _bpath(bucket), json=body, what="bucket")).json()["objs"])

    @staticmethod
    def set_custom(bucket: str, key: str, custom: dict[str, str], *, replace: bool = False) -> Op[None]:
        """Metadata-only update (AIStore's PATCH): merge `custom` into the object's, or with `replace` make it
        exactly `custom`; the data, checksum and version stay."""
        yield Req("PATCH", _opath(bucket, key), params={"set-new-custom": "true"} if replace else None,
                  json={"value": custom}, what="object")  # AIStore's shape: no action name

    @staticmethod
    def list_jobs(*, kind: str = "", bucket: str = "", running: bool = False) -> Op[list[dict[str, Any]]]:
        params = {k: v for k, v in (("kind", kind), ("bucket", bucket)) if v}
        if running:
            params["running"] = "true"
        return (yield Req("GET", "/v1/jobs", params=params or None)).json()

    @staticmethod
    def get_job(job_id: str, wait: float | None = None) -> Op[dict[str, Any]]:
        """The job; with `wait`, after the server waited up to that many seconds for it to finish."""
        params = {"wait": f"{wait:g}"} if wait else None
        return (yield Req("GET", f"/v1/jobs/{quote_segment(job_id)}", params=params, what="job",
                          timeout=(wait + 30.0) if wait else None)).json()

    @staticmethod
    def abort_job(job_id: str) -> Op[dict[str, Any]]:
        """Stop a running job (no-op for a finished one); returns the job."""
        return (yield Req("DELETE", f"/v1/jobs/{quote_segment(job_id)}", what="job")).json()

    @staticmethod
    def wait_job(job_id: str, timeout: float | None = None, *, poll: float = MAX_WAIT_POLL,
                 on_progress: Callable[[dict[str, Any]], None] | None = None) -> Op[dict[str, Any]]:
        """Wait until the job finishes (or `timeout` seconds pass); `on_progress` sees each update."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = poll if deadline is None else min(poll, max(0.0, deadline - time.monotonic()))
            job = yield from ops.get_job(job_id, wait=left or None)
            if on_progress:
                on_progress(job)
            if not job.get("running") or (deadline is not None and time.monotonic() >= deadline):
                return job


def _drive_sync(client: "Client", op: Op[T]) -> T:
    """Run an operation's requests one by one on the sync client."""
    try:
        req = next(op)
        while True:
            req = op.send(client._send(req))
    except StopIteration as stop:
        return stop.value


async def _drive_async(client: "AsyncClient", op: Op[T]) -> T:
    try:
        req = next(op)
        while True:
            req = op.send(await client._send(req))
    except StopIteration as stop:
        return stop.value


def _sync(fn: Callable[P, Op[T]]) -> Callable[Concatenate["Client", P], T]:
    @functools.wraps(fn)
    def method(self: "Client", *args: P.args, **kwargs: P.kwargs) -> T:
        return _drive_sync(self, fn(*args, **kwargs))
    return method


def _async(fn: Callable[P, Op[T]]) -> Callable[Concatenate["AsyncClient", P], Awaitable[T]]:
    @functools.wraps(fn)
    async def method(self: "AsyncClient", *args: P.args, **kwargs: P.kwargs) -> T:
        return await _drive_async(self, fn(*args, **kwargs))
    return method


def _checked(req: Req, resp: httpx.Response) -> httpx.Response:
    if resp.is_error and not req.raw:
        raise error_from_response(resp, req.what)
    return resp


def _timeout(req: Req) -> Any:
    return req.timeout if req.timeout is not None else httpx.USE_CLIENT_DEFAULT


def _http_options(endpoint: str, timeout: float) -> dict[str, Any]:
    """Shared httpx settings. A plain-http endpoint skips loading the CA bundle (~50 ms per CLI run):
    no TLS is spoken there, and redirects (which could lead to https) are never followed."""
    opts: dict[str, Any] = {"base_url": endpoint, "timeout": httpx.Timeout(timeout, connect=min(10.0, timeout)),
                            "limits": httpx.Limits(max_keepalive_connections=32), "follow_redirects": False}
    if endpoint.startswith("http://"):
        opts["verify"] = False
    return opts


# The two clients -------------------------------------------------------------------------------------
class Client:
    """Blocking client (the CLI). Thread-safe: one instance may serve parallel transfers."""

    def __init__(self, endpoint: str | None = None, *, timeout: float = 60.0,
                 http: httpx.Client | None = None) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self._http = http or httpx.Client(**_http_options(self.endpoint, timeout))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, req: Req) -> httpx.Response:
        try:
            resp = self._http.request(req.method, req.path, params=req.params, json=req.json, headers=req.headers,
                                      content=req.content, timeout=_timeout(req))
        except httpx.TransportError as e:
            raise _unreachable(self.endpoint, e) from e
        return _checked(req, resp)

    health = _sync(ops.health)
    get_config = _sync(ops.get_config)
    set_config = _sync(ops.set_config)
    daemon = _sync(ops.daemon)
    list_buckets = _sync(ops.list_buckets)
    create_bucket = _sync(ops.create_bucket)
    head_bucket = _sync(ops.head_bucket)
    bucket_summary = _sync(ops.bucket_summary)
    list_objects = _sync(ops.list_objects)
    set_bucket_props = _sync(ops.set_bucket_props)
    reset_bucket_props = _sync(ops.reset_bucket_props)
    move_bucket = _sync(ops.move_bucket)
    copy_bucket = _sync(ops.copy_bucket)
    make_n_copies = _sync(ops.make_n_copies)
    destroy_bucket = _sync(ops.destroy_bucket)
    delete_objects = _sync(ops.delete_objects)
    head_object = _sync(ops.head_object)
    get_bytes = _sync(ops.get_bytes)
    put_object = _sync(ops.put_object)
    delete_object = _sync(ops.delete_object)
    rename_object = _sync(ops.rename_object)
    sync = _sync(ops.sync)
    copy_object = _sync(ops.copy_object)
    rename_prefix = _sync(ops.rename_prefix)
    set_custom = _sync(ops.set_custom)
    list_jobs = _sync(ops.list_jobs)
    get_job = _sync(ops.get_job)
    abort_job = _sync(ops.abort_job)
    wait_job = _sync(ops.wait_job)

    def iter_objects(self, bucket: str, *, limit: int = 0, **kw: Any) -> Iterator[dict[str, Any]]:
        """Every entry (all pages; at most `limit` when given); `kw` as for `list_objects`."""
        token, n = "", 0
        while True:
            page = self.list_objects(bucket, token=token, **kw)
            for entry in page.get("entries") or []:
                yield entry
                n += 1
                if limit and n >= limit:
                    return
            token = page.get("continuation_token") or ""
            if not token:
                return

    @contextlib.contextmanager
    def open_object(self, bucket: str, key: str, *, offset: int = 0,
                    length: int | None = None) -> Iterator[tuple[ObjectInfo, Iterator[bytes]]]:
        """Stream an object (or a range): yields its info and an iterator of chunks."""
        req = Req("GET", _opath(bucket, key), headers=_range_header(offset, length), what="object")
        try:
            with self._http.stream(req.method, req.path, headers=req.headers) as resp:
                if resp.is_error:
                    resp.read()
                    raise error_from_response(resp, "object")
                info = _get_info(bucket, key, resp)
                yield info, resp.iter_bytes(CHUNK)
        except httpx.TransportError as e:
            raise _unreachable(self.endpoint, e) from e

    def download(self, bucket: str, key: str, out: Any, *, offset: int = 0, length: int | None = None,
                 on_chunk: Callable[[int], None] | None = None,
                 on_open: Callable[[ObjectInfo], None] | None = None, verify: bool = False) -> ObjectInfo:
        """Write an object (or range) to the binary file `out`, chunk by chunk; returns its info.

        `on_open` sees the info (`length` = bytes to come) before the first chunk, e.g. to size a progress bar.
        `verify` checks the bytes against the object's stored checksum (whole objects only): ObjectCorrupted."""
        with self.open_object(bucket, key, offset=offset, length=length) as (info, chunks):
            if on_open:
                on_open(info)
            hasher = _verifier(info) if verify and not _range_header(offset, length) else None
            got = 0
            for chunk in chunks:
                out.write(chunk)
                got += len(chunk)
                if hasher:
                    hasher.update(chunk)
                if on_chunk:
                    on_chunk(len(chunk))
        if info.length >= 0 and got != info.length:
            raise errors.IncompleteBody(f"{info.uri}: received {got} of {info.length} bytes")
        if hasher and hasher.hexdigest() != info.cksum_value.lower():
            raise errors.ObjectCorrupted(f"{info.uri}: {info.cksum_type} checksum mismatch: received "
                                         f"{hasher.hexdigest()}, the server has {info.cksum_value}")
        return info


class AsyncClient:
    """Async client on `httpx.AsyncClient`: works under trio (the mount) and asyncio alike."""

    def __init__(self, endpoint: str | None = None, *, timeout: float = 60.0,
                 http: httpx.AsyncClient | None = None) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self._http = http or httpx.AsyncClient(**_http_options(self.endpoint, timeout))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def _send(self, req: Req) -> httpx.Response:
        try:
            resp = await self._http.request(req.method, req.path, params=req.params, json=req.json,
                                            headers=req.headers, content=req.content, timeout=_timeout(req))
        except httpx.TransportError as e:
            raise _unreachable(self.endpoint, e) from e
        return _checked(req, resp)

    health = _async(ops.health)
    get_config = _async(ops.get_config)
    set_config = _async(ops.set_config)
    daemon = _async(ops.daemon)
    list_buckets = _async(ops.list_buckets)
    create_bucket = _async(ops.create_bucket)
    head_bucket = _async(ops.head_bucket)
    bucket_summary = _async(ops.bucket_summary)
    list_objects = _async(ops.list_objects)
    set_bucket_props = _async(ops.set_bucket_props)
    reset_bucket_props = _async(ops.reset_bucket_props)
    move_bucket = _async(ops.move_bucket)
    copy_bucket = _async(ops.copy_bucket)
    make_n_copies = _async(ops.make_n_copies)
    destroy_bucket = _async(ops.destroy_bucket)
    delete_objects = _async(ops.delete_objects)
    head_object = _async(ops.head_object)
    get_bytes = _async(ops.get_bytes)
    put_object = _async(ops.put_object)
    delete_object = _async(ops.delete_object)
    rename_object = _async(ops.rename_object)
    sync = _async(ops.sync)
    copy_object = _async(ops.copy_object)
    rename_prefix = _async(ops.rename_prefix)
    set_custom = _async(ops.set_custom)
    list_jobs = _async(ops.list_jobs)
    get_job = _async(ops.get_job)
    abort_job = _async(ops.abort_job)
    wait_job = _async(ops.wait_job)

    async def iter_objects(self, bucket: str, *, limit: int = 0, **kw: Any) -> AsyncIterator[dict[str, Any]]:
        """Every entry (all pages; at most `limit` when given); `kw` as for `list_objects`."""
        token, n = "", 0
        while True:
            page = await self.list_objects(bucket, token=token, **kw)
            for entry in page.get("entries") or []:
                yield entry
                n += 1
                if limit and n >= limit:
                    return
            token = page.get("continuation_token") or ""
            if not token:
                return

    @contextlib.asynccontextmanager
    async def open_object(self, bucket: str, key: str, *, offset: int = 0,
                          length: int | None = None) -> AsyncIterator[tuple[ObjectInfo, AsyncIterable[bytes]]]:
        """Stream an object (or a range): yields its info and an async iterator of chunks."""
        req = Req("GET", _opath(bucket, key), headers=_range_header(offset, length), what="object")
        try:
            async with self._http.stream(req.method, req.path, headers=req.headers) as resp:
                if resp.is_error:
                    await resp.aread()
                    raise error_from_response(resp, "object")
                info = _get_info(bucket, key, resp)
                yield info, resp.aiter_bytes(CHUNK)
        except httpx.TransportError as e:
            raise _unreachable(self.endpoint, e) from e


def _get_info(bucket: str, key: str, resp: httpx.Response) -> ObjectInfo:
    """A GET's object info: the object's size, and `length`, the bytes this body carries."""
    info = ObjectInfo.from_headers(bucket, key, resp.headers)
    length = resp.headers.get("Content-Length", "")
    info.length = int(length) if length.isdigit() else -1
    return info


def _verifier(info: ObjectInfo) -> Hasher | None:
    """A hasher of the object's checksum type, or None when it has none this client knows."""
    if not info.cksum_value or info.cksum_type in ("", "none"):
        return None
    try:
        return new_hasher(info.cksum_type)
    except ValueError:
        return None


def file_checksum(f: Any, cksum_type: str, chunk: int = CHUNK) -> str:
    """Hex checksum of a binary file from its current position (e.g. to send with `put_object`)."""
    hasher = new_hasher(cksum_type)
    while data := f.read(chunk):
        hasher.update(data)
    return hasher.hexdigest()


def file_chunks(f: Any, on_chunk: Callable[[int], None] | None = None, chunk: int = CHUNK) -> Iterable[bytes]:
    """A binary file as a stream of chunks for `put_object` (never the whole file in memory)."""
    while data := f.read(chunk):
        if on_chunk:
            on_chunk(len(data))
        yield data


async def aiter_file(f: Any, chunk: int = CHUNK) -> AsyncIterator[bytes]:
    """A binary file as an async stream for `AsyncClient.put_object`; reads run in a worker thread
    (anyio: under trio and asyncio alike) so the event loop never blocks on the disk."""
    while data := await anyio.to_thread.run_sync(f.read, chunk):
        yield data
