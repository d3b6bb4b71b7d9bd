"""Multipart uploads (S3's CreateMultipartUpload ... CompleteMultipartUpload) in the engine.

Parts are data files on the mountpaths, written through WorkFile like any object but indexed
only in this module's tables, so an unfinished upload is invisible to listings and reads.

Clients cut an object into parts of one size (the last one shorter), so an upload's parts are
written straight into one sparse file, its slab: part N at (N-1) times the size of the part that
created the slab. When the completed parts are exactly parts 1..N of the slab, the slab itself
becomes the object's data file (cut to size, never copied), so a multipart upload writes its
bytes once; the object's checksum is hashed as the parts arrive in order (Prefix), so completing
is quick too. Parts that do not fit (another size, a part number uploaded again, a size
the request does not declare) get files of their own, and then completion concatenates the parts
into a new WorkFile. Either way the object is committed like a PUT, in the same index transaction
that removes the upload, so it appears atomically (and as a new version where S3 versioning is on).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterable, AsyncIterator

import trio

from .bprops import ACCESS_GET, ACCESS_PUT
from .checksum import MultiHasher, hex_to_b64, new_hasher
from .errors import AisError, BadDigest, BadRequest, EntityTooLarge, NotFound, ObjectCorrupted
from .meta import ObjectMeta
from .index import register_schema
from .names import check_key, prefix_upper_bound
from .objects import WriteCondition
from .workfile import WorkFile, hash_range

if TYPE_CHECKING:
    from .core import Engine

MIN_PART = 5 << 20
ASSEMBLE_STEP = 64 << 20   # completion copies (and reports progress) in steps of this size
MAX_PART = 5 << 30
MAX_PARTS = 10_000
MAX_SLAB = 5 << 40   # S3's largest object: a part that would end past it in the slab gets a file of its own
AHEAD_STEP = 256 << 20   # a part's request hashes at most this much ahead (~0.35 s of MD5), so no answer waits long
LAYOUT = "x-mpu-parts"   # in ObjectMeta.headers of a completed upload: how to find part N again

SCHEMA = """
CREATE TABLE IF NOT EXISTS s3_uploads(
    upload_id TEXT PRIMARY KEY, bid TEXT NOT NULL, key TEXT NOT NULL, created INTEGER NOT NULL, meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS s3_uploads_by_key ON s3_uploads(bid, key, upload_id);
CREATE TABLE IF NOT EXISTS s3_parts(
    upload_id TEXT NOT NULL, part INTEGER NOT NULL, mp INTEGER NOT NULL, fid TEXT NOT NULL, size INTEGER NOT NULL,
    md5 TEXT NOT NULL, mtime INTEGER NOT NULL, checksum TEXT NOT NULL,
    PRIMARY KEY(upload_id, part)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS s3_slabs(
    upload_id TEXT PRIMARY KEY, mp INTEGER NOT NULL, fid TEXT NOT NULL, slot INTEGER NOT NULL) WITHOUT ROWID;
"""
register_schema(SCHEMA)



class NoSuchUpload(NotFound):
    code = "NoSuchUpload"


class InvalidPart(BadRequest):
    code = "InvalidPart"


class InvalidPartOrder(BadRequest):
    code = "InvalidPartOrder"


class EntityTooSmall(BadRequest):
    code = "EntityTooSmall"


class InvalidPartNumber(AisError):
    status, code = 416, "InvalidPartNumber"


@dataclass(slots=True)
class Upload:
    upload_id: str
    key: str
    created_ns: int
    meta: dict[str, Any] = field(default_factory=dict)   # ctype, custom, headers, algo (x-amz-checksum-algorithm),
    #                                                       full (the algo's checksum is of the whole object)

    @property
    def full_algo(self) -> str:
        """The algorithm of the object's FULL_OBJECT checksum, "" where it gets none."""
        return (self.meta.get("algo") or "") if self.meta.get("full") else ""


@dataclass(slots=True)
class Part:
    number: int
    size: int
    md5: str          # hex; the part's ETag
    mtime_ns: int
    checksum: str     # base64 of the part's x-amz-checksum-<algo>, "" if none
    algo: str = ""    # which algorithm `checksum` is (where the caller needs to name it)


@dataclass(slots=True)
class Prefix:
    """The object's checksums over the slab's parts 1..len(rows), hashed in order as they were stored,
    so an in-place completion hashes only what came after. Good only while those rows are the ones
    completed and the checksum types are still the bucket's (and the upload's full-object one)."""

    types: frozenset[str]
    hasher: MultiHasher
    rows: list[tuple] = field(default_factory=list)   # the s3_parts rows hashed, in part order
    ended: bool = False                               # the last one was shorter than a slot


@dataclass(slots=True)
class Slots:
    """What only the event loop knows of slabs: part slots being written, slabs being made into
    objects, and checksums hashed ahead. A restart forgets all three; the first two end with it, the
    third is hashed again at completion."""

    writing: set[tuple[str, int]] = field(default_factory=set)   # (upload id, part number)
    adopting: set[str] = field(default_factory=set)              # upload ids
    prefixes: dict[str, Prefix] = field(default_factory=dict)    # upload id -> what is hashed so far
    hashing: set[str] = field(default_factory=set)               # upload ids whose prefix is being extended


def _db(eng: "Engine") -> sqlite3.Connection:
    return eng.index.db


def _slab(eng: "Engine", upload_id: str) -> tuple[int, str, int] | None:
    """(mountpath id, file id, slot size) of the upload's slab, if it has one."""
    return _db(eng).execute("SELECT mp, fid, slot FROM s3_slabs WHERE upload_id=?", (upload_id,)).fetchone()


def _new_slab(eng: "Engine", bid: str, key: str, upload_id: str, slot: int) -> tuple[int, str, int]:
    """An empty slab in `%ob`, where the object will live; its row makes it referenced from the start."""
    mp = eng.mountpaths.place(bid, key)
    fid = mp.new_fid()
    mp.ensure_fanout(fid)
    os.close(os.open(mp.data_path(fid), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
    _db(eng).execute("INSERT INTO s3_slabs VALUES(?,?,?,?)", (upload_id, mp.id, fid, slot))
    return mp.id, fid, slot


def _slot_writer(eng: "Engine", bid: str, key: str, upload_id: str, number: int, size: int | None,
                 hash_types: set[str]) -> WorkFile | None:
    """A writer into part `number`'s slot of the upload's slab (claimed until `_release`), or None
    where the part goes to a file of its own: its size undeclared, under MIN_PART for a slab's first
    part, or over the slot; that part number stored or being written already; the slab in use."""
    claim = (upload_id, number)
    if size is None or claim in eng.mpu_slots.writing or upload_id in eng.mpu_slots.adopting:
        return None
    if _db(eng).execute("SELECT 1 FROM s3_parts WHERE upload_id=? AND part=?", claim).fetchone():
        return None   # a slot's bytes never change while a row refers to them
    slab = _slab(eng, upload_id)
    if slab is None:
        if size < MIN_PART:
            return None
        slab = _new_slab(eng, bid, key, upload_id, size)
    mp_id, fid, slot = slab
    if size > slot or (number - 1) * slot + size > MAX_SLAB or mp_id not in eng.mountpaths.by_id:
        return None
    try:
        wf = WorkFile.in_place(eng.mountpaths.get(mp_id), fid, hash_types, offset=(number - 1) * slot)
    except FileNotFoundError:   # a crash took it before any part was stored in it
        return None
    eng.mpu_slots.writing.add(claim)
    return wf


def _release(eng: "Engine", upload_id: str, number: int, wf: WorkFile) -> None:
    if wf.shared:
        eng.mpu_slots.writing.discard((upload_id, number))


def _upload(eng: "Engine", bucket: str, key: str, upload_id: str, access: int) -> tuple[dict[str, Any], str, Upload]:
    props, bid = eng._bucket(bucket, access)
    r = _db(eng).execute("SELECT upload_id, key, created, meta, bid FROM s3_uploads WHERE upload_id=?",
                         (upload_id,)).fetchone()
    if r is None or r[4] != bid or r[1] != key:
        raise NoSuchUpload("The specified upload does not exist. The upload ID may be invalid, or the upload "
                           "may have been aborted or completed.")
    return props, bid, Upload(r[0], r[1], r[2], json.loads(r[3]))


def _check_part_number(n: int) -> None:
    if not 1 <= n <= MAX_PARTS:
        raise BadRequest(f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive")


async def create(eng: "Engine", bucket: str, key: str, *, content_type: str = "", custom: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, algo: str = "", full_object: bool = False) -> str:
    """Start an upload; `full_object` makes the object's `algo` checksum one over all its bytes
    (S3's FULL_OBJECT) rather than the checksum of the parts' checksums (COMPOSITE, "-N")."""
    _, bid = eng._bucket(bucket, ACCESS_PUT)
    check_key(key)
    upload_id = f"{time.time_ns():016x}{secrets.token_hex(12)}"   # time-ordered: listings page by it
    meta = {"ctype": content_type, "custom": custom or {}, "headers": headers or {}, "algo": algo,
            "full": bool(algo and full_object)}
    _db(eng).execute("INSERT INTO s3_uploads VALUES(?,?,?,?,?)",
                     (upload_id, bid, key, time.time_ns(), json.dumps(meta, ensure_ascii=False)))
    return upload_id


async def _store_part(eng: "Engine", bucket: str, key: str, upload_id: str, number: int, wf: WorkFile,
                      checksum: str, algo: str = "") -> Part:
    """Commit a finished part file and index it, replacing an earlier upload of the same part."""
    await wf.place(fsync=eng.config.doc["write_policy"]["fsync"])
    _, bid, _ = _upload(eng, bucket, key, upload_id, ACCESS_PUT)  # aborted meanwhile?
    md5 = wf.hasher.hexdigest("md5")
    lom = b"" if wf.shared else json.dumps({"bid": bid, "key": key, "upload": upload_id, "part": number}).encode()
    fid = wf.commit(lom)
    now = time.time_ns()
    db = _db(eng)
    old = db.execute("SELECT mp, fid FROM s3_parts WHERE upload_id=? AND part=?", (upload_id, number)).fetchone()
    db.execute("INSERT OR REPLACE INTO s3_parts VALUES(?,?,?,?,?,?,?,?)",
               (upload_id, number, wf.mp.id, fid, wf.size, md5, now, checksum))
    slab = _slab(eng, upload_id)
    if old and (slab is None or old[1] != slab[1]):   # the slab holds other parts
        eng._unlink_files([tuple(old)])
    await eng.make_durable()
    return Part(number, wf.size, md5, now, checksum, algo if checksum else "")


async def upload_part(eng: "Engine", bucket: str, key: str, upload_id: str, number: int, body: AsyncIterable[bytes],
                      *, size: int | None, verify: dict[str, str] | None = None, checksum_algo: str = "",
                      checksum: str = "") -> Part:
    """Store one part; `verify` (type -> hex) as for put_object; `checksum` is what to report for the part."""
    _check_part_number(number)
    props, bid, up = _upload(eng, bucket, key, upload_id, ACCESS_PUT)
    if size is not None and size > MAX_PART:
        raise EntityTooLarge(f"a part may be at most {MAX_PART} bytes")
    eng._check_space()
    verify = {t: v.lower() for t, v in (verify or {}).items()}
    hash_types = {"md5", *verify, *([checksum_algo] if checksum_algo else [])}
    wf = (_slot_writer(eng, bid, key, upload_id, number, size, hash_types)
          or WorkFile(eng.mountpaths.place(bid, key), hash_types))
    try:
        await wf.receive(body, size=size, limit=MAX_PART, verify=verify)
        if checksum_algo and not checksum:
            checksum = hex_to_b64(wf.hasher.hexdigest(checksum_algo))
        part = await _store_part(eng, bucket, key, upload_id, number, wf, checksum)
    except BaseException:
        wf.abort()
        raise
    finally:
        _release(eng, upload_id, number, wf)
    if wf.shared:
        await _extend_prefix(eng, upload_id, _object_types(props, up))
    return part


def _object_types(props: dict[str, Any], up: Upload) -> frozenset[str]:
    """The checksums the finished object gets: the bucket's type, and the upload's full-object one."""
    return frozenset({props["checksum"]["type"], *([up.full_algo] if up.full_algo else [])})


async def _extend_prefix(eng: "Engine", upload_id: str, types: frozenset[str]) -> None:
    """Hash the slab's stored parts into the upload's Prefix, in part order, from where it ends while
    the next one is stored, AHEAD_STEP bytes at most (a part stored last after many others leaves the
    rest to the next part or the completion, which keeps its client's connection alive). One task at a
    time per upload: a part stored meanwhile is found by that task's next look, or (stored after its
    last look) extends the prefix itself. A failure only drops the prefix: the completion then hashes
    everything."""
    st = eng.mpu_slots
    slab = _slab(eng, upload_id)
    if slab is None or upload_id in st.hashing or upload_id in st.adopting or not types - {"none"}:
        return
    mp_id, fid, slot = slab
    p = st.prefixes.get(upload_id)
    if p is None or p.types != types:
        p = st.prefixes[upload_id] = Prefix(types, MultiHasher(set(types)))
    st.hashing.add(upload_id)
    fd, hashed = -1, 0
    try:
        while not p.ended and hashed < AHEAD_STEP:
            n = len(p.rows) + 1
            rows = _parts(eng, upload_id, after=n - 1, limit=1)
            if not rows or rows[0][0] != n or rows[0][1] != mp_id or rows[0][2] != fid:
                return
            if fd < 0:
                fd = os.open(eng.mountpaths.get(mp_id).data_path(fid), os.O_RDONLY | os.O_CLOEXEC)
            size = rows[0][3]
            if await trio.to_thread.run_sync(hash_range, p.hasher, fd, (n - 1) * slot, size) != size:
                raise ObjectCorrupted(f"part {n} is shorter in the slab than stored")
            p.rows.append(rows[0])
            p.ended = size < slot
            hashed += size
    except BaseException as e:
        st.prefixes.pop(upload_id, None)   # half-fed or unknown: never used
        if not isinstance(e, Exception):
            raise
    finally:
        st.hashing.discard(upload_id)
        if fd >= 0:
            os.close(fd)


async def upload_part_copy(eng: "Engine", bucket: str, key: str, upload_id: str, number: int, reader: Any,
                           offset: int, length: int) -> Part:
    """A part copied from (a range of) another object, opened by the caller as `reader`; its checksum is
    computed in the upload's algorithm, as the client would have sent it for an uploaded part."""
    _check_part_number(number)
    _, bid, up = _upload(eng, bucket, key, upload_id, ACCESS_PUT)
    checksum_algo = up.meta.get("algo") or ""
    eng._check_space()
    wf = WorkFile(eng.mountpaths.place(bid, key), {"md5", *([checksum_algo] if checksum_algo else [])})
    try:
        await wf.copy_from(reader.fd, offset, length)
        await wf.finish()
        checksum = ""
        if checksum_algo:
            checksum = hex_to_b64(wf.hasher.hexdigest(checksum_algo))
        return await _store_part(eng, bucket, key, upload_id, number, wf, checksum, checksum_algo)
    except BaseException:
        wf.abort()
        raise


def _parts(eng: "Engine", upload_id: str, after: int = 0, limit: int = MAX_PARTS + 1) -> list[tuple]:
    return _db(eng).execute("SELECT part, mp, fid, size, md5, mtime, checksum FROM s3_parts WHERE upload_id=? "
                            "AND part>? ORDER BY part LIMIT ?", (upload_id, after, limit)).fetchall()


async def list_parts(eng: "Engine", bucket: str, key: str, upload_id: str, *, after: int = 0,
                     limit: int = 1000) -> tuple[Upload, list[Part], bool]:
    _, _, up = _upload(eng, bucket, key, upload_id, ACCESS_GET)
    rows = _parts(eng, upload_id, after, limit + 1)
    parts = [Part(r[0], r[3], r[4], r[5], r[6]) for r in rows[:limit]]
    return up, parts, len(rows) > limit


def list_uploads(eng: "Engine", bucket: str, *, prefix: str = "", key_marker: str = "", id_marker: str = "",
                 limit: int = 1000) -> tuple[list[Upload], bool]:
    """Unfinished uploads in key order (then by creation), after the (key, upload id) markers."""
    _, bid = eng._bucket(bucket, ACCESS_GET)
    upper = prefix_upper_bound(prefix) if prefix else None
    q = "SELECT upload_id, key, created, meta FROM s3_uploads WHERE bid=? AND key>=?"
    args: list[Any] = [bid, prefix]
    if upper:
        q += " AND key<?"
        args.append(upper)
    if key_marker:
        q += " AND (key>? OR (key=? AND ?<>'' AND upload_id>?))"  # the same order as ORDER BY below
        args += [key_marker, key_marker, id_marker, id_marker]
    q += " ORDER BY key, upload_id LIMIT ?"
    rows = _db(eng).execute(q, (*args, limit + 1)).fetchall()
    ups = [Upload(r[0], r[1], r[2], json.loads(r[3])) for r in rows[:limit]]
    return ups, len(rows) > limit


async def abort(eng: "Engine", bucket: str, key: str, upload_id: str) -> None:
    _, bid, _ = _upload(eng, bucket, key, upload_id, ACCESS_PUT)
    _drop(eng, [upload_id])


def _forget(eng: "Engine", upload_ids: list[str], keep: str = "") -> list[tuple[int, str]]:
    """Remove uploads from the index; returns their part files and slabs (each once), but `keep`."""
    db = _db(eng)
    files: list[tuple[int, str]] = []
    for uid in upload_ids:
        eng.mpu_slots.prefixes.pop(uid, None)
        for table in ("s3_parts", "s3_slabs"):
            files += [(mp, fid) for mp, fid in db.execute(f"SELECT mp, fid FROM {table} WHERE upload_id=?", (uid,))]
            db.execute(f"DELETE FROM {table} WHERE upload_id=?", (uid,))
        db.execute("DELETE FROM s3_uploads WHERE upload_id=?", (uid,))
    return [f for f in dict.fromkeys(files) if f[1] != keep]


def _drop(eng: "Engine", upload_ids: list[str]) -> None:
    eng._unlink_files(_forget(eng, upload_ids))


def drop_bucket(eng: "Engine", bid: str) -> list[tuple[int, str]]:
    """Forget a destroyed bucket's unfinished uploads; returns their part files for the caller to remove."""
    return _forget(eng, [r[0] for r in _db(eng).execute("SELECT upload_id FROM s3_uploads WHERE bid=?", (bid,))])


def multipart_etag(md5s: list[str]) -> str:
    return f"{hashlib.md5(b''.join(bytes.fromhex(m) for m in md5s), usedforsecurity=False).hexdigest()}-{len(md5s)}"


@dataclass(slots=True)
class Completion:
    """A checked CompleteMultipartUpload: the parts to assemble; `meta` is set once it is committed."""

    bucket: str
    key: str
    upload_id: str
    props: dict[str, Any]
    bid: str
    upload: Upload
    chosen: list[tuple]
    cond: WriteCondition | None = None
    verify: dict[str, str] = field(default_factory=dict)   # full-object checksums the client claims (type -> hex)
    meta: ObjectMeta | None = None

    @property
    def size(self) -> int:
        return sum(r[3] for r in self.chosen)


def check_complete(eng: "Engine", bucket: str, key: str, upload_id: str, wanted: list[tuple[int, str]], *,
                   cond: WriteCondition | None = None, verify: dict[str, str] | None = None,
                   part_checksums: dict[int, dict[str, str]] | None = None) -> Completion:
    """Validate the client's part list (number, ETag, and the part's checksum in the upload's algorithm
    where both sides have one) against the stored parts; nothing is written.

    `cond` is checked now (so a failure is a plain error, not one inside a streamed answer) and again
    at commit; `verify` (type -> hex) is checked against the assembled object where it is full-object."""
    props, bid, up = _upload(eng, bucket, key, upload_id, ACCESS_PUT)
    if cond is not None:
        cond.check(bucket, key, eng.index.get(bid, key))
    if not wanted:
        raise BadRequest("You must specify at least one part")
    have = {r[0]: r for r in _parts(eng, upload_id)}
    chosen = []
    prev = 0
    for i, (num, etag) in enumerate(wanted):
        if num <= prev:
            raise InvalidPartOrder("The list of parts was not in ascending order. The parts list must be "
                                   "specified in order by part number.")
        prev = num
        r = have.get(num)
        claimed = (part_checksums or {}).get(num, {}).get(up.meta.get("algo") or "", "")
        if (r is None or etag.strip().strip('"').lower() != r[4]
                or claimed and r[6] and not _same_b64(claimed, r[6])):
            raise InvalidPart(f"One or more of the specified parts could not be found (part {num}). The part may "
                              "not have been uploaded, or the specified entity tag (or checksum) may not match "
                              "the part's.")
        if r[3] < MIN_PART and i != len(wanted) - 1:
            raise EntityTooSmall(f"part {num} is {r[3]} bytes; every part but the last must be at least {MIN_PART}")
        chosen.append(r)
    claims = {t: v.lower() for t, v in (verify or {}).items() if t == up.full_algo}
    c = Completion(bucket, key, upload_id, props, bid, up, chosen, cond, claims)
    slab = _slab(eng, upload_id)
    if slab is None or not _fills_slab(eng, c, slab):   # completing in place writes no data: a full disk allows it
        eng._check_space()
    return c


async def assemble(eng: "Engine", c: Completion) -> AsyncIterator[int]:
    """Make the parts the object (then `c.meta` is set): the slab itself where the parts are exactly
    its parts 1..N, else a new file the parts are copied into.

    Yields the bytes hashed or copied so far every ASSEMBLE_STEP, so a caller can keep its client's
    connection alive while a large object is put together.
    """
    algo = c.upload.meta.get("algo") or ""
    hash_types = _object_types(c.props, c.upload)
    slab = _slab(eng, c.upload_id)
    adopt = slab is not None and _fills_slab(eng, c, slab)
    wf: WorkFile | None = None
    if adopt:
        eng.mpu_slots.adopting.add(c.upload_id)   # no part may take a slot of it from now on
    try:
        if adopt:
            assert slab is not None
            wf = WorkFile.in_place(eng.mountpaths.get(slab[0]), slab[1], set(hash_types), offset=0)
            steps = _take_slab(wf, c.size, _take_prefix(eng, c, wf, hash_types))
        else:
            wf = WorkFile(eng.mountpaths.place(c.bid, c.key), set(hash_types))
            steps = _copy_parts(eng, c, wf, slab)
        async for done in steps:
            yield done
        await wf.finish()
        await eng._place_data(c.props, c.bid, c.key, wf)
        up = c.upload
        headers = dict(up.meta.get("headers") or {})
        headers[LAYOUT] = _layout([r[3] for r in c.chosen])
        if c.upload.full_algo:
            headers[f"x-amz-checksum-{algo}"] = _full_checksum(wf, algo, c.verify.get(algo, ""))
        elif algo and all(r[6] for r in c.chosen):
            headers[f"x-amz-checksum-{algo}"] = _composite_checksum(algo, [r[6] for r in c.chosen])
        # Someone may have aborted (or completed) the upload while we copied: re-check before commit.
        _upload(eng, c.bucket, c.key, c.upload_id, ACCESS_PUT)
        keep = wf.fid if adopt else ""
        c.meta = eng._commit(c.bucket, c.bid, c.props, c.key, wf, content_type=up.meta.get("ctype", ""),
                             custom=dict(up.meta.get("custom") or {}), headers=headers,
                             etag=multipart_etag([r[4] for r in c.chosen]), cond=c.cond,
                             also=lambda: _forget(eng, [c.upload_id], keep=keep))
    except BaseException:
        if wf is not None:
            wf.abort()   # a slab stays: the upload can still be completed or aborted
        raise
    finally:
        if adopt:
            eng.mpu_slots.adopting.discard(c.upload_id)
    await eng.make_durable()


def _fills_slab(eng: "Engine", c: Completion, slab: tuple[int, str, int]) -> bool:
    """The completion takes every stored part, and they are the slab's parts 1..N, each a full slot
    but the last: then the slab, cut after part N, is the object."""
    mp, fid, slot = slab
    busy = c.upload_id in eng.mpu_slots.adopting or any(uid == c.upload_id for uid, _ in eng.mpu_slots.writing)
    if busy or mp not in eng.mountpaths.by_id:
        return False
    rows = c.chosen
    return (rows == _parts(eng, c.upload_id)   # nothing stored since the check, nothing left out
            and [r[0] for r in rows] == list(range(1, len(rows) + 1))
            and all(r[1] == mp and r[2] == fid for r in rows)
            and all(r[3] == slot for r in rows[:-1]) and rows[-1][3] <= slot)


def _take_prefix(eng: "Engine", c: Completion, wf: WorkFile, types: frozenset[str]) -> int:
    """Start `wf`'s checksums from the parts hashed ahead (Prefix), where they are the completion's
    first parts, hashed with these types and not being extended; returns the offset hashing goes on from."""
    p = eng.mpu_slots.prefixes.pop(c.upload_id, None)   # taken either way: hashing on changes it
    if p is None or c.upload_id in eng.mpu_slots.hashing or p.types != types or p.rows != c.chosen[:len(p.rows)]:
        return 0
    wf.hasher = p.hasher
    wf.size = sum(r[3] for r in p.rows)
    return wf.size


async def _take_slab(wf: WorkFile, size: int, start: int) -> AsyncIterator[int]:
    """The slab's first `size` bytes as the object's data: what lies past them (bytes of parts that
    failed or were never completed) is cut off, the rest hashed where it is from `start` on (what
    comes before is hashed already)."""
    await trio.to_thread.run_sync(wf.truncate, size)
    fd = os.open(wf.mp.data_path(wf.fid), os.O_RDONLY | os.O_CLOEXEC)
    try:
        for off in range(start, size, ASSEMBLE_STEP):
            await wf.take_written(fd, off, min(ASSEMBLE_STEP, size - off))
            yield wf.size
    finally:
        os.close(fd)


async def _copy_parts(eng: "Engine", c: Completion, wf: WorkFile,
                      slab: tuple[int, str, int] | None) -> AsyncIterator[int]:
    """Copy the chosen parts, from their own files or their slots in the slab, into `wf`."""
    fds: list[int] = []
    try:
        for r in c.chosen:   # all opened first: a part re-uploaded meanwhile cannot change what was checked
            fds.append(_open_part(eng, r))
        for r, fd in zip(c.chosen, fds):
            base = (r[0] - 1) * slab[2] if slab is not None and r[2] == slab[1] else 0
            for off in range(0, r[3], ASSEMBLE_STEP):
                n = min(ASSEMBLE_STEP, r[3] - off)
                await wf.copy_from(fd, base + off, n)
                yield wf.size
    finally:
        for fd in fds:
            os.close(fd)


async def complete(eng: "Engine", bucket: str, key: str, upload_id: str, wanted: list[tuple[int, str]]) -> ObjectMeta:
    """Assemble the listed parts (number, ETag) into the object; the upload is gone afterwards."""
    c = check_complete(eng, bucket, key, upload_id, wanted)
    async for _ in assemble(eng, c):
        pass
    assert c.meta is not None
    return c.meta


def _same_b64(a: str, b: str) -> bool:
    try:
        return base64.b64decode(a, validate=True) == base64.b64decode(b)
    except ValueError:
        return False


def _full_checksum(wf: WorkFile, algo: str, claimed: str) -> str:
    """Base64 of `algo` over the assembled object, refusing a value the client claimed for it."""
    got = wf.hasher.hexdigest(algo)
    if claimed and claimed != got:
        raise BadDigest(f"the {algo.upper()} you specified did not match the calculated checksum")
    return hex_to_b64(got)


def _composite_checksum(algo: str, part_checksums: list[str]) -> str:
    """S3's COMPOSITE checksum: `algo` over the parts' binary checksums, then "-N"."""
    h = new_hasher(algo)
    for b64 in part_checksums:
        h.update(base64.b64decode(b64))
    return f"{hex_to_b64(h.hexdigest())}-{len(part_checksums)}"


def _open_part(eng: "Engine", r: tuple) -> int:
    try:
        return os.open(eng.mountpaths.get(r[1]).data_path(r[2]), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidPart(f"the data of part {r[0]} is missing from its mountpath") from None


def _layout(sizes: list[int]) -> str:
    """`N:size:last` when all parts but the last have one size (the usual case), else every size."""
    if len(sizes) == 1 or (len(set(sizes[:-1])) == 1 and sizes[-1] <= sizes[0]):
        return f"{len(sizes)}:{sizes[0]}:{sizes[-1]}"
    return ",".join(map(str, sizes))


def part_range(meta: ObjectMeta, number: int) -> tuple[int, int, int]:
    """(offset, length, parts count) of part `number` of a stored object (a plain object is one part)."""
    layout = meta.headers.get(LAYOUT, "")
    if not layout:
        sizes = [meta.size]
    elif ":" in layout:
        n, size, last = (int(x) for x in layout.split(":"))
        if not 1 <= number <= n:
            raise InvalidPartNumber("The requested partnumber is not satisfiable")
        return (number - 1) * size, (size if number < n else last), n
    else:
        sizes = [int(x) for x in layout.split(",")]
    if not 1 <= number <= len(sizes):
        raise InvalidPartNumber("The requested partnumber is not satisfiable")
    return sum(sizes[: number - 1]), sizes[number - 1], len(sizes)
