"""Object operations of the Engine: PUT, GET, HEAD, DELETE, rename, copy, multi-object delete."""
from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterable, Callable, Iterable, Iterator, Sequence

import trio

from . import names, templates, versions
from .bprops import ACCESS_DELETE, ACCESS_GET, ACCESS_HEAD, ACCESS_PUT, check_access
from .checksum import VERIFY_TYPES, Cksum, new_hasher
from .durable import fsync_dirs, fsync_path, syncfs
from .errors import (BadRequest, Conflict, EntityTooLarge, KeyTooLong, NotImplementedYet, ObjectCorrupted,
                     ObjectNotFound, OutOfSpace, PreconditionFailed)
from .index import DELETE_BATCH, Index, Row, row_to_meta
from .jobs import Job
from .meta import ObjectMeta, make_etag
from .openfiles import OpenFile, OpenFiles
from .prefetch import Stream
from .staged import StagedFile
from .workfile import WorkFile

if TYPE_CHECKING:
    from .core import Engine

MAX_OBJECT_SIZE = 5 * (1 << 40)  # S3's limit
Body = AsyncIterable[bytes] | bytes


class ObjectReader:
    """An open object version: reads see this version even if the key is overwritten meanwhile."""

    def __init__(self, meta: ObjectMeta, file: OpenFile, files: OpenFiles, stream: Stream | None = None) -> None:
        self.meta = meta
        self.fd = file.fd   # shared with other readers of this version: read it with pread/sendfile only
        self._file = file
        self._files = files
        self._stream = stream

    def pread(self, size: int, offset: int) -> bytes:
        return os.pread(self.fd, size, offset)

    def reading(self, offset: int, length: int) -> None:
        """Say what is read next from `fd`, so that a large object read in order is read ahead of the reader
        (`prefetch.Stream`)."""
        if self._stream is not None:
            self._stream.reading(offset, length)

    def close(self) -> None:
        if self.fd >= 0:
            self.fd = -1
            self._files.release(self._file)

    def __enter__(self) -> "ObjectReader":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class WriteCondition:
    """S3's conditional write (If-None-Match: * / If-Match: ETag), checked inside the index transaction
    that commits the new version, so two racing writers can never both pass."""

    absent: bool = False   # If-None-Match: *: only if the key has no current version (a delete marker is none)
    etag: str = ""         # If-Match: only if the current version has this ETag ("*": any current version)

    @classmethod
    def from_headers(cls, if_match: str, if_none_match: str) -> "WriteCondition | None":
        """Parse the two request headers as S3 does: If-None-Match takes only `*`, and not with If-Match."""
        im, inm = if_match.strip(), if_none_match.strip()
        if inm and inm != "*":
            raise NotImplementedYet("If-None-Match on a write takes only the value *")
        if inm and im:
            raise NotImplementedYet("If-Match and If-None-Match cannot be combined on a write")
        if not (im or inm):
            return None
        return cls(absent=bool(inm), etag=im.removeprefix("W/").strip().strip('"'))

    def check(self, bucket: str, key: str, current: Row | None) -> None:
        """Raise unless `current` (the key's current index row, or None) allows the write."""
        if self.absent and current is not None:
            raise PreconditionFailed(f"object \"ais://{bucket}/{key}\" already exists (If-None-Match: *)")
        if self.etag:
            if current is None:
                raise ObjectNotFound(f"object \"ais://{bucket}/{key}\" does not exist (If-Match)")
            if self.etag not in ("*", current[7]):
                raise PreconditionFailed(f"object \"ais://{bucket}/{key}\" has ETag \"{current[7]}\", "
                                         f"not \"{self.etag}\" (If-Match)")


async def _chunks(body: Body) -> AsyncIterable[bytes]:
    if isinstance(body, (bytes, bytearray, memoryview)):
        yield bytes(body)
    else:
        async for c in body:
            yield c


def _lom(bid: str, m: ObjectMeta) -> bytes:
    """The metadata copy kept on the data file, enough to rebuild the index from disks."""
    return json.dumps({"bid": bid, "key": m.key, "size": m.size, "cksum": str(m.cksum), "version": m.version,
                       "etag": m.etag, "mtime": m.mtime_ns, "ctype": m.content_type, "custom": m.custom,
                       "headers": m.headers, "vid": m.vid}, ensure_ascii=False).encode()


class ObjectOps:
    """Mixed into Engine; relies on its index, bmd, mountpaths, config, stats and jobs."""

    def _bucket(self: "Engine", bucket: str, access: int) -> tuple[dict[str, Any], str]:
        props = self.bucket_props(bucket)
        check_access(props, access, bucket)
        return props, props["bid"]

    def _row(self: "Engine", bucket: str, bid: str, key: str) -> ObjectMeta:
        row = self.index.get(bid, key)
        if row is None:
            raise ObjectNotFound(f"object \"ais://{bucket}/{key}\" does not exist")
        return row_to_meta(bucket, row)

    def _check_space(self: "Engine") -> None:
        oos = self.config.doc["space"]["out_of_space"]
        used = self.mountpaths.max_pct_used()
        if used >= oos:
            raise OutOfSpace(f"out of space: {used:.1f}% used, the limit is {oos}% (space.out_of_space)")

    # PUT ----------------------------------------------------------------------------------------
    async def put_object(self: "Engine", bucket: str, key: str, body: Body, *, size: int | None = None,
                         content_type: str = "", custom: dict[str, str] | None = None,
                         headers: dict[str, str] | None = None, verify: dict[str, str] | None = None,
                         etag: str | None = None, cond: WriteCondition | None = None) -> ObjectMeta:
        """Store an object from a stream; visible only once complete, verified and on disk.

        `verify` maps checksum types (md5, sha256, crc32c, ...) to hex values the client claims;
        any mismatch is BadDigest and the previous version stays in place. `cond` is checked at commit.
        """
        props, bid = self._bucket(bucket, ACCESS_PUT)
        names.check_key(key)
        if size is not None and size > MAX_OBJECT_SIZE:
            raise EntityTooLarge(f"object size {size} exceeds the {MAX_OBJECT_SIZE}-byte limit")
        self._check_space()
        ctype = props["checksum"]["type"]
        verify = {t: v.lower() for t, v in (verify or {}).items()}
        if unknown := set(verify) - set(VERIFY_TYPES):
            raise BadRequest(f"unknown checksum type {', '.join(sorted(unknown))!r}; one of {', '.join(VERIFY_TYPES)}")
        mp = self.mountpaths.place(bid, key)
        wf = WorkFile(mp, {ctype, *verify})
        try:
            await wf.receive(_chunks(body), size=size, limit=MAX_OBJECT_SIZE, verify=verify)
            await self._place_data(props, bid, key, wf)
            meta = self._commit(bucket, bid, props, key, wf, content_type=content_type, custom=custom or {},
                                headers=headers or {}, etag=etag, cond=cond)
        except BaseException:
            wf.abort()
            raise
        await self.make_durable()
        return meta

    def new_staged(self: "Engine", bucket: str, key: str) -> StagedFile:
        """A file to build an object in place (a mount's open file), on the mountpath the key belongs to."""
        props, bid = self._bucket(bucket, ACCESS_PUT)
        return StagedFile(self.mountpaths.place(bid, key), props["checksum"]["type"], self.writeback)

    async def put_staged(self: "Engine", bucket: str, key: str, staged: StagedFile, *,
                         custom: dict[str, str] | None = None) -> ObjectMeta:
        """Make a staged file the object's new version without copying it: hashed (what the running
        checksum has not covered), made durable, then renamed and indexed like any PUT."""
        props, bid = self._bucket(bucket, ACCESS_PUT)
        names.check_key(key)
        if staged.sealed:
            raise BadRequest("this staged file is already an object's data; stage a successor")
        if staged.size > MAX_OBJECT_SIZE:
            raise EntityTooLarge(f"object size {staged.size} exceeds the {MAX_OBJECT_SIZE}-byte limit")
        self._check_space()
        if not staged.hashed(props["checksum"]["type"]):  # a file written front to back needs no thread hop (~150 us)
            await trio.to_thread.run_sync(staged.finish_sync, props["checksum"]["type"])
        try:
            await self._place_data(props, bid, key, staged)
            meta = self._commit(bucket, bid, props, key, staged, content_type="", custom=custom or {}, headers={},
                                etag=None)
        except BaseException:
            if not staged.sealed:   # back to its handle's work file, to retry or let go
                staged.unplace()
            raise
        await self.make_durable()
        meta.durable = self.config.doc["write_policy"]["fsync"]   # a later fsync(2) then needs only the WAL
        return meta

    async def _place_data(self: "Engine", props: dict[str, Any], bid: str, key: str, wf: WorkFile) -> None:
        """A finished file's mirror copies (in a mirrored bucket), then the file and its copies into `%ob`,
        made durable under `write_policy.fsync`: all before the row that will refer to them."""
        await self._mirror(props, bid, key, wf)
        await wf.place(fsync=self.config.doc["write_policy"]["fsync"])

    async def make_durable(self: "Engine") -> None:
        """Under `write_policy.fsync` a change is acknowledged only once a power loss cannot take it back:
        a write's files and their directories were synced when placed, so its row (the WAL) is what is
        left; a delete, rename or metadata change is only rows. The mount passes `durable=False` to the
        calls that take it: POSIX makes those durable at fsync(2) of the file or directory instead."""
        if self.config.doc["write_policy"]["fsync"]:
            await trio.to_thread.run_sync(functools.partial(self.index.sync, data_only=True))

    async def sync(self: "Engine", meta: ObjectMeta | None = None) -> None:
        """Durability barrier (a mount's fsync), whatever the write policy: `meta`'s data file (and its mirror
        copies), the directories they were renamed into, then the index's WAL (in that order, so a row never
        reaches the disk without its files); with no `meta`, or one whose write already synced its files
        (`meta.durable`), the WAL alone (every row committed before it)."""
        files = ([(mp, meta.fid) for mp in (meta.mp, *self.index.copies_of(meta.fid))]
                 if meta and meta.fid and not meta.durable else [])
        await trio.to_thread.run_sync(_sync_placed, self._paths(files), self.index)

    async def sync_all(self: "Engine") -> None:
        """Every change committed so far made durable, whatever the write policy, for a caller that cannot
        name the data files (a remote mount's fsync: its file may have been renamed or unlinked since).
        Under `write_policy.fsync` only the WAL can be left; without it, each mountpath's filesystem is
        synced first (syncfs), then the WAL, so no row reaches the disk before its data."""
        policy = self.config.doc["write_policy"]["fsync"]
        roots = [] if policy else [str(mp.path) for mp in self.mountpaths.by_id.values()]

        def sync() -> None:
            for root in roots:
                syncfs(root)
            self.index.sync()

        await trio.to_thread.run_sync(sync)

    def _paths(self: "Engine", files: list[tuple[int, str]]) -> list[str]:
        """Paths of data files on attached mountpaths."""
        return [p for p in (self._data_path(mp, fid) for mp, fid in files) if p is not None]

    def _commit(self: "Engine", bucket: str, bid: str, props: dict[str, Any], key: str, wf: WorkFile, *,
                content_type: str, custom: dict[str, str], headers: dict[str, str], etag: str | None,
                cond: WriteCondition | None = None,
                also: Callable[[], list[tuple[int, str]]] | None = None) -> ObjectMeta:
        """Index a placed file as the key's new version; `cond` is checked inside the index transaction (a
        failure rolls it back and removes the file); `also` runs inside it too (a finished multipart
        upload's rows go with the commit) and returns more data files to remove after it."""
        ctype = props["checksum"]["type"]
        now = time.time_ns()
        old_row = self.index.get(bid, key)
        version = ""
        if props["versioning"]["enabled"]:
            prev = old_row[6] if old_row else ""
            version = str(int(prev) + 1) if prev.isdigit() else "1"
        cksum = Cksum(ctype, wf.hasher.hexdigest(ctype))
        meta = ObjectMeta(bucket=bucket, key=key, size=wf.size, cksum=cksum, version=version,
                          etag=etag or make_etag(cksum, now, wf.size), atime_ns=now, mtime_ns=now,
                          content_type=content_type, custom=custom, headers=headers, mp=wf.mp.id,
                          vid=versions.new_vid(props))
        meta.fid = wf.commit(_lom(bid, meta))

        def replace(old: Row | None) -> list[tuple[int, str]]:
            if cond is not None:
                cond.check(bucket, key, old)
            return versions.retire(self, bid, props, old, key, meta.vid) + (also() if also else [])

        try:  # the replaced version is kept (or let go) in the same transaction as the new row
            drop = self.index.put(bid, meta, replace, copies=[mp.id for mp in wf.copies])
        except BaseException:
            for path in self._paths(wf.own_files()):
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        self._unlink_files(drop)
        self.stats.add("put.n")
        self.stats.add("put.size", meta.size)
        return meta

    # GET / HEAD -----------------------------------------------------------------------------------
    async def head_object(self: "Engine", bucket: str, key: str) -> ObjectMeta:
        _, bid = self._bucket(bucket, ACCESS_HEAD)
        meta = self._row(bucket, bid, key)
        meta.atime_ns = max(meta.atime_ns, self._atimes.get((bid, key), 0))
        return meta

    async def open_object(self: "Engine", bucket: str, key: str, *, validate: bool | None = None) -> ObjectReader:
        """Open the current version for reading; corrupted data is refused, never returned."""
        props, bid = self._bucket(bucket, ACCESS_GET)
        meta = self._row(bucket, bid, key)
        reader = await self._open_data(meta, bid, props["checksum"]["validate_warm_get"] if validate is None
                                       else validate)
        meta.atime_ns = time.time_ns()
        self._note_atime(bid, key)
        self.stats.add("get.n")
        return reader

    async def _open_at(self: "Engine", meta: ObjectMeta, mp: int, bid: str, validate: bool) -> ObjectReader:
        """Open the version's data file on mountpath `mp`: it must be there, the right size, and (when
        validating) the right checksum."""
        path = self.mountpaths.get(mp).data_path(meta.fid)
        try:
            file, reused = self.open_files.acquire((mp, meta.fid), path, meta.size)
        except FileNotFoundError:
            raise ObjectCorrupted(f"the data of \"ais://{meta.bucket}/{meta.key}\" is missing from mountpath "
                                  f"#{mp}") from None
        reader = ObjectReader(meta, file, self.open_files, self.prefetcher.stream(path, meta.size))
        try:
            if not reused and os.fstat(file.fd).st_size != meta.size:
                raise ObjectCorrupted(f"the data of \"ais://{meta.bucket}/{meta.key}\" on mountpath #{mp} is not "
                                      "the size its metadata says")
            # before validation reads it: was it cached? (a file read moments ago is taken to be)
            self.prefetcher.opened(bid, meta.key, file.fd, meta.size, cached=reused)
            if validate:
                await self._validate(reader)
        except BaseException:
            reader.close()
            raise
        return reader

    async def _validate(self: "Engine", reader: ObjectReader) -> None:
        m = reader.meta
        if m.cksum.type == "none":
            return

        def compute() -> str:
            h = new_hasher(m.cksum.type)
            pos = 0
            while chunk := os.pread(reader.fd, 4 << 20, pos):
                h.update(chunk)
                pos += len(chunk)
            return h.hexdigest()

        self._check_data(m, await trio.to_thread.run_sync(compute), "the object is not served")

    def _check_data(self: "Engine", m: ObjectMeta, got: str, refused: str) -> None:
        """Stored bytes whose checksum (`got`) is not the object's are never passed on: counted, refused."""
        if got != m.cksum.value:
            self.stats.add("err.cksum.n")
            raise ObjectCorrupted(f"BAD DATA CHECKSUM: \"ais://{m.bucket}/{m.key}\" has {m.cksum.type} {got}, "
                                  f"expected {m.cksum.value}; {refused}")

    async def get_bytes(self: "Engine", bucket: str, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """Convenience for small reads (tests, xattr-sized payloads)."""
        with await self.open_object(bucket, key) as r:
            n = r.meta.size - offset if length is None else length
            return await trio.to_thread.run_sync(r.pread, max(0, n), offset)

    # DELETE / rename / copy -------------------------------------------------------------------------
    async def delete_object(self: "Engine", bucket: str, key: str, *, durable: bool = True) -> ObjectMeta:
        _, bid = self._bucket(bucket, ACCESS_DELETE)
        old = self._remove(bid, [key])[0]
        if old is None:
            raise ObjectNotFound(f"object \"ais://{bucket}/{key}\" does not exist")
        if durable:
            await self.make_durable()
        return row_to_meta(bucket, old)

    def _remove(self: "Engine", bid: str, keys: Sequence[str]) -> list[Row | None]:
        """Remove objects in one index transaction and hand their data files to the reaper; the removed
        rows, None where a key was not there. The caller checked access and makes it durable."""
        rows = self.index.delete_many(bid, keys)
        for key in keys:
            self._atimes.pop((bid, key), None)
        self._unlink_files([(r[1], r[2]) for r in rows if r is not None])
        self.stats.add("del.n", sum(r is not None for r in rows))
        return rows

    def _remove_batches(self: "Engine", bid: str, keys: Iterable[str]) -> Iterator[list[tuple[str, Row | None]]]:
        """`_remove` of many keys, DELETE_BATCH per transaction: each batch's (key, removed row) pairs, for
        a caller that lets the event loop run between batches."""
        it = iter(keys)
        while batch := list(itertools.islice(it, DELETE_BATCH)):
            yield list(zip(batch, self._remove(bid, batch)))

    async def rename_object(self: "Engine", bucket: str, src: str, dst: str, *, durable: bool = True) -> ObjectMeta:
        """Atomically move `src` to `dst` within a bucket, replacing `dst` if it exists."""
        _, bid = self._bucket(bucket, ACCESS_PUT | ACCESS_DELETE)
        names.check_key(dst)
        meta = self._row(bucket, bid, src)
        if src == dst:
            return meta
        replaced = self.index.rename(bid, src, dst)
        if replaced is not None:
            self._unlink_files([(replaced[1], replaced[2])])
        self._atimes.pop((bid, src), None)
        meta.key = dst
        with contextlib.suppress(OSError):
            os.setxattr(self.mountpaths.get(meta.mp).data_path(meta.fid), "user.ais.lom", _lom(bid, meta))
        self.stats.add("ren.n")
        if durable:
            await self.make_durable()
        return meta

    async def rename_prefix(self: "Engine", bucket: str, src: str, dst: str, *, durable: bool = True) -> int:
        """Move a whole "directory" in one transaction, so no reader ever sees half of it."""
        _, bid = self._bucket(bucket, ACCESS_PUT | ACCESS_DELETE)
        if not src or not dst or src.startswith(dst) or dst.startswith(src):
            raise BadRequest(f"cannot move prefix {src!r} to {dst!r}")
        if self.index.has_prefix(bid, dst):
            raise Conflict(f"destination prefix {dst!r} is not empty")
        grow = len(dst.encode()) - len(src.encode())
        if grow > 0 and self.index.longest_key_bytes(bid, src) + grow > names.MAX_KEY_BYTES:
            raise KeyTooLong(f"moving {src!r} to {dst!r} would make a key longer than {names.MAX_KEY_BYTES} bytes")
        n = self.index.rename_prefix(bid, src, dst)
        self._atimes = {k: v for k, v in self._atimes.items() if not (k[0] == bid and k[1].startswith(src))}
        if durable:
            await self.make_durable()
        return n

    async def copy_object(self: "Engine", src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, *,
                          content_type: str | None = None, custom: dict[str, str] | None = None,
                          headers: dict[str, str] | None = None, cond: WriteCondition | None = None) -> ObjectMeta:
        """Copy one object; metadata is kept unless replacements are given; `cond` guards the destination."""
        self.check_copy_target(dst_bucket, dst_key)
        with await self.open_object(src_bucket, src_key, validate=False) as src:
            return await self.copy_reader(src, dst_bucket, dst_key, content_type=content_type, custom=custom,
                                          headers=headers, cond=cond)

    def check_copy_target(self: "Engine", dst_bucket: str, dst_key: str) -> None:
        """Refuse a copy the destination cannot take before any source is opened."""
        self._bucket(dst_bucket, ACCESS_PUT)
        names.check_key(dst_key)
        self._check_space()

    async def copy_reader(self: "Engine", src: ObjectReader, dst_bucket: str, dst_key: str, *,
                          content_type: str | None = None, custom: dict[str, str] | None = None,
                          headers: dict[str, str] | None = None, cond: WriteCondition | None = None) -> ObjectMeta:
        """Write an open object version (current or older) as the destination's new version."""
        dst_props, dst_bid = self._bucket(dst_bucket, ACCESS_PUT)
        m = src.meta
        wf = WorkFile(self.mountpaths.place(dst_bid, dst_key), {dst_props["checksum"]["type"], m.cksum.type})
        try:
            await wf.copy_from(src.fd, 0, m.size)
            # the source's own checksum comes free with the copy: never launder rotten bytes into a fresh one
            if m.cksum.type != "none":
                self._check_data(m, wf.hasher.hexdigest(m.cksum.type), "not copied")
            await wf.finish()
            await self._place_data(dst_props, dst_bid, dst_key, wf)
            etag = m.etag if m.cksum.type == dst_props["checksum"]["type"] else None
            meta = self._commit(dst_bucket, dst_bid, dst_props, dst_key, wf,
                                content_type=m.content_type if content_type is None else content_type,
                                custom=dict(m.custom) if custom is None else custom,
                                headers=dict(m.headers) if headers is None else headers, etag=etag, cond=cond)
        except BaseException:
            wf.abort()
            raise
        await self.make_durable()
        return meta

    async def update_object_meta(self: "Engine", bucket: str, key: str, *, custom: dict[str, str] | None = None,
                                 headers: dict[str, str] | None = None, content_type: str | None = None,
                                 durable: bool = True) -> ObjectMeta:
        """Replace user metadata in place (no data rewrite): xattrs, chmod/chown/utimes from the mount."""
        _, bid = self._bucket(bucket, ACCESS_PUT)
        meta = self._row(bucket, bid, key)
        if custom is not None:
            meta.custom = custom
        if headers is not None:
            meta.headers = headers
        if content_type is not None:
            meta.content_type = content_type
        self.index.update_meta(bid, key, meta)
        if durable:
            await self.make_durable()
        return meta

    # multi-object ------------------------------------------------------------------------------------
    async def delete_objects(self: "Engine", bucket: str, *, objnames: list[str] | None = None,
                             template: str | None = None) -> Job:
        """delete-listrange: a job over a list of names or a template ("" = every object)."""
        _, bid = self._bucket(bucket, ACCESS_DELETE)
        if objnames is None and template is None:
            raise BadRequest("give either a list of object names or a template")
        tmpl = templates.parse(template) if template is not None else None
        job = Job(kind="delete-listrange", bucket=bucket)
        if objnames is not None:
            job.total = len(objnames)
        elif tmpl is not None and not tmpl.is_prefix:
            job.total = tmpl.count()

        def candidates() -> Iterable[str]:
            if objnames is not None:
                return objnames
            assert tmpl is not None
            if tmpl.is_prefix:
                return (r[0] for r in self.index.iter_prefix(bid, tmpl.prefix, columns="key"))
            return tmpl.expand()

        async def work(job: Job) -> None:
            for removed in self._remove_batches(bid, candidates()):
                for key, old in removed:
                    if old is not None:
                        job.objs += 1
                        job.bytes += old[3]
                    elif objnames is not None:
                        job.error(f"{key}: does not exist")
                await trio.sleep(0)
            await self.make_durable()   # a finished job's deletes are durable

        return self.jobs.start(job, work)


def _sync_placed(paths: list[str], index: Index) -> None:
    """The data files and the directories they were renamed into, then the WAL; with no `paths`, the WAL
    alone (fully fsynced: it then also covers renames no one synced)."""
    for path in paths:
        fsync_path(path)
    fsync_dirs(paths)
    index.sync(data_only=bool(paths))
