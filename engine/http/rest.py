"""The native REST face (`/v1`): AIStore's URL layout, action envelopes and JSON shapes.

It only translates: parse the request, call the engine, shape the answer. Engine errors become
JSON `{"message", "status"}` here and nowhere else.
"""
from __future__ import annotations

import functools
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

import msgpack

from .. import versions
from ..errors import (AisError, BadRequest, MalformedRequest, NotFound, NotImplementedYet, ObjectNotFound,
                      RangeNotSatisfiable)
from ..objects import WriteCondition
from ..jobs import Job
from ..listing import MAX_PAGE
from ..meta import ListEntry, ObjectMeta
from ..names import check_key
from ..ranges import parse_range
from .apc import ENTRY_IS_CACHED, ENTRY_IS_DIR, LS_NAME_ONLY, LS_NO_RECURSION
from .custom_md import format_custom_md, parse_custom_md
from .server import FileBody, Request, Response, http_date, iso_second, latin1

if TYPE_CHECKING:
    from ..core import Engine

log = logging.getLogger("aisfs.rest")

DEFAULT_PROPS = ("name", "size", "version", "checksum", "atime")
KNOWN_PROPS = frozenset(DEFAULT_PROPS + ("custom", "etag", "last-modified", "cached", "status", "copies", "location"))


def json_response(doc: Any, status: int = 200) -> Response:
    return Response(status, [("content-type", "application/json")],
                    json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())


def text_response(text: str) -> Response:
    return Response(200, [("content-type", "text/plain; charset=utf-8")], text.encode())


def error_response(err: AisError) -> Response:
    resp = json_response({"message": err.message, "status": err.status, "code": err.code}, err.status)
    if isinstance(err, RangeNotSatisfiable):  # RFC 9110: tells resuming clients the object's size
        resp.headers.append(("content-range", f"bytes */{err.size}"))
    return resp


def rfc3339(ns: int) -> str:
    """RFC 3339 with microseconds, UTC."""
    sec, rem = divmod(ns, 1_000_000_000)
    return f"{iso_second(sec)}.{str(rem // 1000).zfill(6)}Z"   # zfill: a third faster than :06d


def object_headers(m: ObjectMeta) -> list[tuple[str, str]]:
    """AIStore's object attribute headers plus the HTTP standard ones."""
    h = [("ais-checksum-type", m.cksum.type), ("ais-checksum-value", m.cksum.value), ("ais-version", m.version),
         ("ais-atime", str(m.atime_ns)), ("etag", f'"{m.etag}"'), ("last-modified", http_date(m.mtime_ns / 1e9)),
         ("content-type", m.content_type or "application/octet-stream"), ("accept-ranges", "bytes")]
    if m.vid != "null":
        h.append(("ais-version-id", m.vid))
    if m.custom:
        h.append(("ais-custom-md", format_custom_md(m.custom)))
    return [(k, latin1(v)) for k, v in h]


def _job_snap(job: Job) -> dict[str, Any]:
    """A job as AIStore's xaction snapshot (core.Snap), for its SDK's Job.wait and get_details."""
    bck = {"name": job.bucket, "provider": "ais", "namespace": {"uuid": "", "name": ""}}
    return {"id": job.id, "kind": job.kind, "bck": bck, "start-time": rfc3339(job.start_ns),
            "end-time": rfc3339(job.end_ns) if job.end_ns else ZERO_TIME,
            "stats": {"loc-objs": job.objs, "loc-bytes": job.bytes, "out-objs": 0, "out-bytes": 0,
                      "in-objs": 0, "in-bytes": 0},
            "aborted": job.aborted, "is_idle": not job.running, "abort-err": "; ".join(job.errors)}


def _job_status(job: Job) -> dict[str, Any]:
    """AIStore's JobStatus of one job (`end_time` 0 while it runs)."""
    return {"uuid": job.id, "err": "; ".join(job.errors), "end_time": job.end_ns, "aborted": job.aborted}


def _job_buckets(args: dict[str, Any]) -> set[str]:
    """The bucket names an AIStore JobArgs filters by (`Bck`, `Buckets`); empty: no filter."""
    more = args.get("Buckets")
    bcks = [args.get("Bck"), *(more if isinstance(more, list) else [])]
    return {str(b["name"]) for b in bcks if isinstance(b, dict) and b.get("name")}


def _json_page(uuid: str, token: str, entries: list[str]) -> Response:
    """AIStore's LsoRes as JSON, from the entries already encoded."""
    body = (f'{{"uuid":{_js(uuid)},"continuation_token":{_js(token)},"entries":[' + ",".join(entries)
            + '],"flags":0}')
    return Response(200, [("content-type", "application/json")], body.encode())


def utf8_header(value: str, name: str) -> str:
    """A header stored as text: the server decoded its bytes as UTF-8 (surrogateescape); invalid bytes are a 400."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{name} is not valid UTF-8") from None
    return value


NODE_ID = "aisfs"                     # this store as the one target of an AIStore cluster (smap, job snapshots)
ZERO_TIME = "0001-01-01T00:00:00Z"    # Go's zero time: a job that has not ended
# HEAD /v1/buckets/B?presence=N: AIStore's FLT_EXISTS_NO_PROPS and FLT_PRESENT_NO_PROPS (and no `presence`)
# want the props alone; the other filters also want the bucket's summary.
FLT_NO_PROPS = ("", "1", "3")

# List props -> the entry's JSON member, with its leading comma. A listing page is encoded straight to JSON
# text (C string escaping, no per-entry dict): it is the hottest REST path.
_js = json.encoder.encode_basestring  # escapes exactly as json.dumps(ensure_ascii=False) does
# prop -> (the ListEntry attribute, the list_rows field, the member as f-string text of the value `v`)
LIST_FIELDS: dict[str, tuple[str, str, str]] = {
    "size": ("size", "size", ',"size":{v}'),
    "checksum": ("cksum_value", "checksum", ',"checksum":{js(v)}'),
    "version": ("version", "version", ',"version":{js(v)}'),
    "atime": ("atime_ns", "atime", ',"atime":"{rfc3339(v)}"'),
    "etag": ("etag", "etag", ',"etag":{js(v)}'),
    "last-modified": ("mtime_ns", "mtime", ',"last-modified":"{rfc3339(v)}"'),
}


@functools.lru_cache(maxsize=64)
def entry_encoder(props: tuple[str, ...]) -> Callable[..., str]:
    """`(name, *values of props) -> the entry's JSON`, for props from LIST_FIELDS, as one compiled f-string.
    A call per member per entry was a third of a 10,000-entry page's time; the source is built from the
    constant texts above only (props are checked against KNOWN_PROPS before)."""
    args = [f"v{i}" for i in range(len(props))]
    members = "".join(LIST_FIELDS[p][2].replace("{v}", f"{{{a}}}").replace("(v)", f"({a})") for p, a in zip(props, args))
    src = f"lambda {', '.join(['name', *args])}: f'{{{{\"name\":{{js(name)}}{members},\"flags\":{ENTRY_IS_CACHED}}}}}'"
    return eval(src, {"js": _js, "rfc3339": rfc3339})  # noqa: S307 (trusted text, see above)


# The same page for AIStore's own clients, which ask for it in MessagePack (`Accept: application/msgpack`:
# the Python SDK's list_objects does, and cannot read the JSON page): LsoRes and LsoEntry as AIStore
# encodes them (cmn/objlist.go), with their short member names.
MSGPACK = "application/msgpack"
MSGPACK_FIELDS: dict[str, tuple[str, Callable[[ListEntry], Any]]] = {
    "size": ("s", lambda e: e.size),
    "checksum": ("cs", lambda e: e.cksum_value),
    "version": ("v", lambda e: e.version),
    "atime": ("a", lambda e: rfc3339(e.atime_ns)),
}
MSGPACK_PLACE: dict[str, tuple[str, Callable[[list[str]], Any]]] = {
    "copies": ("c", len),
    "location": ("t", lambda paths: paths[0] if paths else ""),
}
# List props read from where the data lies (the attached mountpaths holding it, original first): a
# lookup per entry, so they are made only when asked for.
PLACE_FIELDS: dict[str, Callable[[list[str]], str]] = {
    "copies": lambda paths: f',"copies":{len(paths)}',
    "location": lambda paths: ',"location":' + _js(paths[0] if paths else ""),
}


class RestFace:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine

    async def handle(self, req: Request) -> Response:
        try:
            return await self._route(req)
        except AisError as e:
            return error_response(e)
        except Exception as e:
            log.exception("REST %s %s failed", req.method, req.raw_path)
            return json_response({"message": f"internal error: {type(e).__name__}: {e}", "status": 500}, 500)

    # routing -------------------------------------------------------------------------------------
    async def _route(self, req: Request) -> Response:
        parts = req.path.split("/", 3)  # "", "v1", resource, rest
        resource = parts[2] if len(parts) > 2 else ""
        rest = parts[3] if len(parts) > 3 else ""
        _check_provider(req)
        match resource:
            case "health":
                return json_response({"status": "ok"})
            case "buckets":
                return await self._buckets(req, rest)
            case "objects":
                bucket, _, key = rest.partition("/")
                return await self._objects(req, _bucket_name(bucket), key)
            case "daemon" | "cluster":
                return await self._daemon(req, rest)
            case "jobs" | "xactions":
                return await self._jobs(req, rest)
        raise NotFound(f"unknown REST resource /v1/{resource}")

    async def _summary_job(self, name: str, uuid: str, prefix: str) -> Job:
        """The summary-bck job `uuid` of this bucket, or a new one when no uuid is given."""
        if not uuid:
            return await self.engine.summarize_bucket(name, prefix)
        job = self.engine.jobs.get(uuid)
        if job.kind != "summary-bck" or job.bucket != name:
            raise BadRequest(f"job {uuid!r} is not a summary of bucket {name!r}")
        return job

    def _bsumm(self, name: str, job: Job) -> dict[str, Any]:
        """AIStore's BsummResult (counts and sizes as strings, as it encodes them); a failed job is an error."""
        if job.errors or job.result is None:
            raise AisError(f"summary of bucket {name!r} failed: {'; '.join(job.errors) or 'aborted'}")
        r = job.result
        disks = sum(c["total"] for c in self.engine.capacity())
        return {"name": name, "provider": "ais", "namespace": {"uuid": "", "name": ""},
                "ObjCount": {"obj_count_present": str(r["objects"]), "obj_count_remote": "0"},
                "ObjSize": {"obj_min_size": r["min"], "obj_avg_size": r["size"] // r["objects"] if r["objects"] else 0,
                            "obj_max_size": r["max"]},
                "TotalSize": {"size_on_disk": str(r["size"]), "size_all_present_objs": str(r["size"]),
                              "size_all_remote_objs": "0", "total_disks_size": str(disks)},
                "used_pct": r["size"] * 100 // disks if disks else 0, "is_present": True}

    async def _action(self, req: Request) -> dict[str, Any]:
        """The `{"action","name","value"}` envelope; {} when there is no body."""
        raw = await req.read_body(self.engine.config.doc["net"]["max_json_body"])
        if not raw.strip():
            return {}
        try:
            msg = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise MalformedRequest(f"request body is not valid JSON: {e}") from None
        if not isinstance(msg, dict):
            raise MalformedRequest("request body must be a JSON object like {\"action\": ...}")
        return msg

    # buckets ---------------------------------------------------------------------------------------
    async def _buckets(self, req: Request, rest: str) -> Response:
        eng = self.engine
        name = _bucket_name(rest.strip("/"))
        if not name:
            if req.method != "GET":
                raise BadRequest(f"{req.method} /v1/buckets needs a bucket name")
            await self._action(req)
            out = [{"name": b["name"], "provider": b["provider"], "namespace": {"uuid": "", "name": ""},
                    "created": b["created"], "bid": b["bid"]} for b in await eng.list_buckets()]
            return json_response(out)
        if req.method == "HEAD":
            presence = req.query.get("presence", FLT_NO_PROPS[0])
            if presence not in FLT_NO_PROPS:   # its SDK's Bucket.info(prefix=P) sends HEAD /v1/buckets/B/P
                name, _, prefix = name.partition("/")
            props = await eng.head_bucket(name)
            headers = [("ais-bucket-props", json.dumps(props))]
            if presence in FLT_NO_PROPS:
                return Response(200, headers, b"")
            # AIStore's bucket info (its SDK's Bucket.info): props at once, the summary by polling its job
            job = await self._summary_job(name, req.query.get("uuid", ""), prefix)
            headers.append(("ais-xaction-id", job.id))
            if job.running:
                return Response(202, headers, b"")
            return Response(200, [*headers, ("ais-bucket-summ", json.dumps(self._bsumm(name, job)))], b"")
        msg = await self._action(req)
        action, value = msg.get("action", ""), msg.get("value")
        match req.method, action:
            case "GET", "list-versions":
                return json_response(self._list_versions(name, _dict(value)))
            case "GET", "list":
                return await self._list(name, value or {}, as_msgpack=MSGPACK in req.header("accept"))
            case "GET", "summary" | "":
                return json_response(await eng.bucket_summary(name))
            case "GET", "summary-bck":
                # AIStore's protocol (its SDK's Bucket.summary): the first call starts the job (202 and its id),
                # later calls name it in "uuid" and get 202 until it is done, then 200 with the summaries
                v = _dict(value)
                job = await self._summary_job(name, str(v.get("uuid") or ""), str(v.get("prefix") or ""))
                if job.running:
                    return json_response(job.id, 202)
                return json_response([self._bsumm(name, job)])
            case "POST", "create-bck":
                return json_response(await eng.create_bucket(name, _dict(value)))
            case "POST", "move-bck":
                job = await eng.rename_bucket(name, self._bck_to(req, msg))
                return text_response(job.id)
            case "POST", "copy-bck":
                v = _dict(value)
                job = await eng.copy_bucket(name, self._bck_to(req, msg), prefix=str(v.get("prefix") or ""),
                                            dry_run=bool(v.get("dry_run", False)))
                return text_response(job.id)
            case "POST", "make-n-copies":
                return text_response((await eng.make_n_copies(name, value)).id)
            case "POST", "rename-prefix":
                src, dst = _prefix_move(msg)
                if not (n := await eng.rename_prefix(name, src, dst)):
                    raise ObjectNotFound(f"no objects under \"ais://{name}/{src}\" to move")
                return json_response({"objs": n})
            case "PATCH", "set-bprops":
                return json_response(await eng.set_bucket_props(name, _dict(value)))
            case "PATCH", "reset-bprops":
                return json_response(await eng.reset_bucket_props(name))
            case "DELETE", "destroy-bck" | "":
                await eng.destroy_bucket(name)
                return Response(200)
            case "DELETE", "delete-listrange" | "delete-objects":
                v = _dict(value)
                objnames = v.get("objnames")
                if objnames is not None and not (isinstance(objnames, list) and all(isinstance(o, str) for o in objnames)):
                    raise BadRequest("objnames must be a list of object names")
                template = v.get("template")
                if template is not None and not isinstance(template, str):
                    raise BadRequest("template must be a string, e.g. \"shard-{0000..0099}.tar\"")
                if objnames is None and template is None:
                    template = ""
                job = await eng.delete_objects(name, objnames=objnames, template=template)
                return text_response(job.id)
        raise BadRequest(f"unknown action {action!r} for {req.method} /v1/buckets")

    def _bck_to(self, req: Request, msg: dict[str, Any]) -> str:
        dst = req.query.get("bck_to") or (msg.get("name") if isinstance(msg.get("name"), str) else "")
        if not dst:
            raise BadRequest("missing destination bucket (?bck_to=NAME)")
        return _uname(dst)[0]

    async def _list(self, bucket: str, value: Any, *, as_msgpack: bool = False) -> Response:
        """LsoRes `{"uuid","continuation_token","entries","flags"}` for one page (in MessagePack when asked)."""
        msg = _dict(value)
        try:
            flags = int(msg.get("flags") or 0)
            page = int(msg.get("pagesize") or MAX_PAGE)
        except (TypeError, ValueError):
            raise BadRequest("flags and pagesize must be integers") from None
        props = [p.strip() for p in str(msg.get("props") or ",".join(DEFAULT_PROPS)).split(",") if p.strip()]
        if unknown := set(props) - KNOWN_PROPS:
            raise BadRequest(f"unknown list props: {', '.join(sorted(unknown))}")
        names_only = bool(flags & LS_NAME_ONLY) or props == ["name"]
        fields = [] if names_only else [p for p in props if p in LIST_FIELDS]
        encode = entry_encoder(tuple(fields))
        place = [] if names_only else [PLACE_FIELDS[p] for p in props if p in PLACE_FIELDS]
        eng = self.engine
        where = {"prefix": str(msg.get("prefix") or ""), "start_after": str(msg.get("start_after") or ""),
                 "token": str(msg.get("continuation_token") or ""), "page_size": page}
        # AIStore names a listing session by a UUID, echoed on every later page; its SDK takes an empty one to
        # mean "not started" and, at the end, lists again from the start. Pages here need no session state.
        uuid = str(msg.get("uuid") or "") or secrets.token_hex(8)
        if not (as_msgpack or names_only or place or "custom" in props or flags & LS_NO_RECURSION):
            # the common page, straight from index rows (3x fewer microseconds an entry than from ListEntry)
            rows, token = await eng.list_rows(bucket, fields=tuple(LIST_FIELDS[p][1] for p in fields), **where)
            return _json_page(uuid, token, [encode(*row) for row in rows])
        res = await eng.list_objects(bucket, delimiter="/" if flags & LS_NO_RECURSION else "", names_only=names_only,
                                     full="custom" in props or bool(place), **where)
        if as_msgpack:
            return self._msgpack_page(res, [] if names_only else props, uuid)
        frags = []
        for e in res.entries:
            if e.is_dir:
                frags.append(f'{{"name":{_js(e.name)},"flags":{ENTRY_IS_DIR}}}')
                continue
            ent = encode(e.name, *[getattr(e, LIST_FIELDS[p][0]) for p in fields])[:-1]  # without its "}"
            if "custom" in props:
                ent += ',"custom-md":' + json.dumps(e.meta.custom if e.meta else {}, ensure_ascii=False,
                                                    separators=(",", ":"))
            if place:
                paths = eng.locations(e.meta) if e.meta else []
                for pf in place:
                    ent += pf(paths)
            frags.append(ent + "}")
        return _json_page(uuid, res.token, frags)

    def _msgpack_page(self, res: Any, props: list[str], uuid: str) -> Response:
        fields = [MSGPACK_FIELDS[p] for p in props if p in MSGPACK_FIELDS]
        place = [MSGPACK_PLACE[p] for p in props if p in MSGPACK_PLACE]
        entries: list[dict[str, Any]] = []
        for e in res.entries:
            if e.is_dir:
                entries.append({"n": e.name, "f": ENTRY_IS_DIR})
                continue
            ent: dict[str, Any] = {"n": e.name, "f": ENTRY_IS_CACHED}
            for short, get in fields:
                ent[short] = get(e)
            if place:
                paths = self.engine.locations(e.meta) if e.meta else []
                for short, get_place in place:
                    ent[short] = get_place(paths)
            entries.append(ent)
        body = msgpack.packb({"UUID": uuid, "ContinuationToken": res.token, "Flags": 0, "Entries": entries})
        return Response(200, [("content-type", MSGPACK)], body)

    def _list_versions(self, bucket: str, msg: dict[str, Any]) -> dict[str, Any]:
        """Every kept version, newest first per key: the same history S3's ListObjectVersions shows."""
        try:
            page = int(msg.get("pagesize") or 1000)
        except (TypeError, ValueError):
            raise BadRequest("pagesize must be an integer") from None
        if not 0 < page <= MAX_PAGE:
            raise BadRequest(f"pagesize must be between 1 and {MAX_PAGE}")
        entries, truncated, next_key, next_vid = versions.list_versions(
            self.engine, bucket, prefix=str(msg.get("prefix") or ""), key_marker=str(msg.get("key_marker") or ""),
            vid_marker=str(msg.get("version_id_marker") or ""), limit=page)
        out = []
        for e in entries:
            if isinstance(e, str):
                continue
            m = e.meta
            ent: dict[str, Any] = {"name": m.key, "version_id": m.vid, "is_latest": e.latest,
                                   "delete_marker": e.marker}
            if not e.marker:
                ent.update(size=m.size, checksum=m.cksum.value, version=m.version,
                           **{"last-modified": rfc3339(m.mtime_ns)})
            out.append(ent)
        return {"entries": out, "truncated": truncated, "next_key_marker": next_key,
                "next_version_id_marker": next_vid}

    # objects ----------------------------------------------------------------------------------------
    async def _objects(self, req: Request, bucket: str, key: str) -> Response:
        eng = self.engine
        if not bucket or not key:
            raise BadRequest("expected /v1/objects/BUCKET/OBJECT")
        match req.method:
            case "GET":
                vid = self._vid(req)
                reader = await (versions.open(eng, bucket, key, vid) if vid else eng.open_object(bucket, key))
                try:
                    m = reader.meta
                    rng = parse_range(req.header("range"), m.size)
                    headers = object_headers(m)
                    if rng is None:
                        return Response(200, headers, FileBody(reader.fd, 0, m.size, reader.close))
                    off, n = rng
                    headers.append(("content-range", f"bytes {off}-{off + n - 1}/{m.size}"))
                    return Response(206, headers, FileBody(reader.fd, off, n, reader.close))
                except BaseException:
                    reader.close()
                    raise
            case "HEAD":
                vid = self._vid(req)
                m = await (versions.head(eng, bucket, key, vid) if vid else eng.head_object(bucket, key))
                paths = eng.locations(m)
                return Response(200, [*object_headers(m), ("content-length", str(m.size)),
                                      ("ais-name", latin1(key)), ("ais-bucket-name", bucket),
                                      ("ais-bucket-provider", "ais"), ("ais-present", "true"),
                                      ("ais-location", paths[0] if paths else ""),
                                      ("ais-mirror-copies", str(len(paths))),
                                      ("ais-mirror-paths", "[" + " ".join(paths) + "]")], None, head=True)
            case "PUT" if "object_to" in req.query:
                # AIStore's copy-object (its SDK's Object.copy): no body; never a PUT of an empty object
                dst_bucket, dst_key = _uname(req.query["object_to"])
                if not dst_key:
                    raise BadRequest("object_to must name a destination object: ais/@#/BUCKET/OBJECT")
                return Response(200, object_headers(await eng.copy_object(bucket, key, dst_bucket, dst_key)))
            case "PUT":
                return await self._put(req, bucket, key)
            case "DELETE":
                vid = self._vid(req)
                if vid or versions.status(eng.bucket_props(bucket)):
                    gone = await versions.delete(eng, bucket, key, vid)   # a delete marker, or one version
                    return Response(200, [("ais-version-id", gone.vid)] if gone.vid else [])
                await eng.delete_object(bucket, key)
                return Response(200)
            case "PATCH":
                return await self._set_custom(req, bucket, key)
            case "POST":
                msg = await self._action(req)
                action, name = msg.get("action"), msg.get("name")
                if not isinstance(name, str) or not name:
                    raise BadRequest(f"{action}: missing destination \"name\"")
                if action == "rename-obj":
                    return Response(200, object_headers(await eng.rename_object(bucket, key, name)))
                if action == "copy-obj":
                    dst_bucket = _bucket_name(str(_dict(msg.get("value")).get("bucket") or bucket))
                    return Response(200, object_headers(await eng.copy_object(bucket, key, dst_bucket, name)))
                raise BadRequest(f"unknown action {action!r} for POST /v1/objects")
        raise BadRequest(f"method {req.method} is not supported on objects")

    @staticmethod
    def _vid(req: Request) -> str:
        """`?version_id=` names one S3 version (as S3's versionId does); empty means the current one."""
        return req.query.get("version_id", "")

    async def _set_custom(self, req: Request, bucket: str, key: str) -> Response:
        """AIStore's PATCH: merge the custom keys in `value` (all of them replaced with `?set-new-custom=true`),
        metadata only: the data, its checksum and version stay."""
        msg = await self._action(req)
        if msg.get("action") not in (None, "", "set-custom"):
            raise BadRequest(f"unknown action {msg.get('action')!r} for PATCH /v1/objects")
        custom = _custom_md(msg.get("value"))
        if req.query.get("set-new-custom", "").lower() not in ("true", "1"):
            custom = {**(await self.engine.head_object(bucket, key)).custom, **custom}
        return Response(200, object_headers(await self.engine.update_object_meta(bucket, key, custom=custom)))

    async def _put(self, req: Request, bucket: str, key: str) -> Response:
        if not req.chunked and req.content_length is None:
            raise BadRequest("PUT needs Content-Length or chunked transfer encoding")
        verify = {}
        ctype, cval = req.header("ais-checksum-type"), req.header("ais-checksum-value")
        if ctype and cval and ctype != "none":
            verify[ctype] = cval
        m = await self.engine.put_object(
            bucket, key, req.body(), size=req.content_length if not req.chunked else None,
            content_type=utf8_header(req.header("content-type"), "Content-Type"),
            custom=parse_custom_md(utf8_header(req.header("ais-custom-md"), "Ais-Custom-Md")),
            verify=verify, cond=WriteCondition.from_headers(req.header("if-match"), req.header("if-none-match")))
        return Response(200, object_headers(m))

    # daemon / cluster -----------------------------------------------------------------------------
    async def _daemon(self, req: Request, rest: str) -> Response:
        eng = self.engine
        if req.method == "PUT":
            if rest.strip("/") == "set-config":
                updates: dict[str, Any] = dict(req.query_items)
                await self._action(req)
            else:
                msg = await self._action(req)
                if msg.get("action") == "sync":  # aisfs: every change committed so far made durable
                    await eng.sync_all()
                    return Response(200)
                if msg.get("action") != "set-config":
                    raise BadRequest(f"unknown action {msg.get('action')!r} for PUT /v1/daemon")
                updates = _dict(msg.get("value"))
            if not updates:
                raise BadRequest("set-config: no settings given")
            return json_response(await eng.set_config(updates))
        if req.method != "GET":
            raise BadRequest(f"{req.method} is not supported on /v1/daemon")
        what = req.query.get("what", "")
        if what in ("status", "qryxstats", "status_all", "running_all"):   # AIStore's job queries (JSON bodies)
            args = await self._action(req)
            if what == "status":   # JobArgs {"ID",...}
                return json_response(_job_status(eng.jobs.get(str(args.get("ID") or ""))))
            if what in ("status_all", "running_all"):   # JobQuery {"kind","node","show_active"}
                running = what == "running_all" or bool(args.get("show_active"))
                listed = eng.jobs.list(kind=str(args.get("kind") or ""), running_only=running)
                if args.get("node") not in (None, "", NODE_ID):  # jobs run on the one target
                    listed = []
                return json_response([_job_status(j) for j in listed] if what == "status_all"
                                     else [f"{j.kind}[{j.id}]" for j in listed])
            jobs = ([eng.jobs.get(str(args["ID"]))] if args.get("ID")
                    else eng.jobs.list(kind=str(args.get("Kind") or "")))
            if names := _job_buckets(args):
                jobs = [j for j in jobs if names & {j.bucket, j.dst_bucket}]
            return json_response({NODE_ID: [_job_snap(j) for j in jobs]})
        match what:
            case "config":
                return json_response(eng.get_config())
            case "stats":
                return json_response(eng.daemon_stats())
            case "mountpaths":
                return json_response({"available": eng.mountpath_list()})
            case "capacity":
                return json_response(eng.capacity())
            case "bmd":
                return json_response({"version": eng.bmd.version, "uuid": eng.bmd.uuid, "buckets": eng.bmd.buckets})
            case "smap":
                return json_response(self._smap(req))
        raise BadRequest(f"unknown ?what={what!r} (config, stats, mountpaths, capacity, bmd, smap, status, status_all, "
                         "running_all, qryxstats)")

    def _smap(self, req: Request) -> dict[str, Any]:
        """AIStore's cluster map, with this store as its one gateway and one target, both at the address the
        client used (its SDK finds the primary gateway, and targets for direct reads, here)."""
        url = urlsplit(f"http://{req.header('host') or '127.0.0.1'}")
        try:
            port = str(url.port or "")
        except ValueError:
            raise BadRequest(f"Host header {url.netloc!r} is not HOST[:PORT]") from None
        net = {"node_hostname": url.hostname or "", "daemon_port": port, "direct_url": f"http://{url.netloc}"}

        def node(kind: str, node_id: str) -> dict[str, Any]:
            return {"daemon_id": node_id, "daemon_type": kind, "public_net": net, "intra_control_net": net,
                    "intra_data_net": net, "flags": 0, "id_digest": 0}

        proxy = node("proxy", f"p{NODE_ID}")
        return {"tmap": {NODE_ID: node("target", NODE_ID)}, "pmap": {proxy["daemon_id"]: proxy}, "proxy_si": proxy,
                "version": 1, "uuid": self.engine.bmd.uuid,
                "creation_time": rfc3339(self.engine.started_ns)}

    # jobs -----------------------------------------------------------------------------------------
    async def _jobs(self, req: Request, rest: str) -> Response:
        jobs = self.engine.jobs
        job_id = rest.strip("/")
        if not job_id:
            if req.method != "GET":
                raise BadRequest(f"{req.method} /v1/jobs needs a job ID: {req.method} /v1/jobs/ID")
            q = req.query
            return json_response([j.to_json() for j in jobs.list(
                kind=q.get("kind", ""), bucket=q.get("bucket", ""), running_only=q.get("running") == "true")])
        if req.method == "GET":
            wait = req.query.get("wait")
            if wait:
                try:
                    timeout = min(float(wait), 3600.0)
                    if not timeout >= 0:  # also NaN
                        raise ValueError(wait)
                except ValueError:
                    raise BadRequest("wait must be a non-negative number of seconds") from None
                return json_response((await jobs.wait(job_id, timeout)).to_json())
            return json_response(jobs.get(job_id).to_json())
        if req.method == "DELETE":
            return json_response(jobs.abort(job_id).to_json())
        raise BadRequest(f"{req.method} is not supported on /v1/jobs/ID")


def _check_provider(req: Request) -> None:
    """AIStore names a remote bucket by `?provider=` (s3, gcp, ht, ...); this store holds ais:// buckets
    only, so a request for another provider is refused rather than served from the local bucket."""
    if not req.query_string:
        return
    provider = req.query.get("provider", "")
    if provider not in ("", "ais"):
        raise NotImplementedYet(f"provider {provider!r} is not supported yet: only ais:// buckets are served")


def _bucket_name(s: str) -> str:
    """Accept `ais://b` as well as `b`."""
    return s[6:] if s.startswith("ais://") else s


def _uname(s: str) -> tuple[str, str]:
    """(bucket, object) from AIStore's unified name `PROVIDER/@UUID#NAMESPACE/BUCKET/OBJECT` (a bucket's own
    ends at `BUCKET/`), which its SDK sends for destinations; a plain `BUCKET[/OBJECT]` or `ais://...` too.
    Only ais:// buckets in the global namespace are held here."""
    if s.startswith("ais://"):
        s = s[6:]
    elif "/@" in s:
        provider, _, rest = s.partition("/")
        namespace, _, rest = rest.partition("/")
        if provider != "ais" or namespace != "@#":
            raise NotImplementedYet(f"{s!r}: only ais:// buckets in the global namespace are served")
        s = rest
    bucket, _, obj = s.partition("/")
    return bucket, obj


def _custom_md(value: Any) -> dict[str, str]:
    """Custom metadata from JSON: names and values are strings, names non-empty."""
    custom = _dict(value)
    for k, v in custom.items():
        if not isinstance(v, str) or not k:
            raise BadRequest("custom metadata must map non-empty names to strings")
        utf8_header(k, "custom metadata name")
        utf8_header(v, "custom metadata value")
    return custom


def _prefix_move(msg: dict[str, Any]) -> tuple[str, str]:
    """rename-prefix's `name` (the source prefix) and `value.to` (the destination), both key-like strings."""
    src, dst = msg.get("name"), _dict(msg.get("value")).get("to")
    if not isinstance(src, str) or not isinstance(dst, str) or not src or not dst:
        raise BadRequest('rename-prefix needs "name": "SRC/" and "value": {"to": "DST/"}')
    return check_key(src), check_key(dst)


def _dict(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise BadRequest("action value must be a JSON object")
    return value
