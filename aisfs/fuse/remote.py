"""Remote mode: the Backend protocol over a running server's `/v1` REST API (aisfs.client.AsyncClient).

Each op is one `/v1` call as in embedded mode: a directory rename is the server's one-transaction
`rename-prefix`, and metadata-only changes (chmod, utimes, user.meta.*) are a PATCH that rewrites no data.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, AsyncIterable, AsyncIterator

from engine.bprops import ACCESS_PUT, check_access
from engine.checksum import Cksum
from engine.errors import BucketNotEmpty, BucketNotFound, ObjectNotFound, PreconditionFailed
from engine.http.apc import ENTRY_IS_DIR
from engine.meta import ListEntry, ObjectMeta
from engine.workfile import pwrite_all

from ..client import AsyncClient, ObjectInfo
from .backend import Staging
from .upload import staged_chunks

READ_BLOCK = 4 << 20   # one range GET fills this much of a handle's buffer: few, large requests
LIST_PROPS = "name,size,version,checksum,atime,custom,etag,last-modified"


def _parse_rfc3339(s: str) -> int:
    """RFC 3339 (UTC, up to ns) -> Unix ns; 0 when absent or malformed."""
    if not s:
        return 0
    try:
        base, _, frac = s.rstrip("Z").partition(".")
        t = dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
        return int(t.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)
    except ValueError:
        return 0


def _meta_from_info(info: ObjectInfo) -> ObjectMeta:
    mtime = int(info.mtime) * 1_000_000_000
    return ObjectMeta(bucket=info.bucket, key=info.key, size=info.size, cksum=Cksum(info.cksum_type, info.cksum_value),
                      version=info.version, etag=info.etag, atime_ns=info.atime_ns or mtime, mtime_ns=mtime,
                      content_type=info.content_type, custom=dict(info.custom))


def _meta_from_entry(bucket: str, e: dict[str, Any]) -> ObjectMeta:
    mtime = _parse_rfc3339(str(e.get("last-modified", ""))) // 1_000_000_000 * 1_000_000_000  # as HEAD shows it
    return ObjectMeta(bucket=bucket, key=e["name"], size=int(e.get("size", 0)), cksum=Cksum("", str(e.get("checksum", ""))),
                      version=str(e.get("version", "")), etag=str(e.get("etag", "")),
                      atime_ns=_parse_rfc3339(str(e.get("atime", ""))) or mtime, mtime_ns=mtime,
                      custom=dict(e.get("custom-md") or {}))


class RemoteReader:
    """Range GETs of READ_BLOCK into a buffer, so sequential FUSE reads cost one request per 4 MiB.

    Each response must carry the version the handle opened; after an overwrite reads fail with ESTALE.
    """

    def __init__(self, client: AsyncClient, meta: ObjectMeta) -> None:
        self.c = client
        self.meta = meta
        self._off = 0
        self._buf = b""

    async def pread(self, size: int, offset: int) -> bytes | memoryview:
        end = min(offset + size, self.meta.size)
        if offset >= end:
            return b""
        if not (self._off <= offset and end <= self._off + len(self._buf)):
            n = max(end - offset, READ_BLOCK)
            n = min(n, self.meta.size - offset)
            async with self.c.open_object(self.meta.bucket, self.meta.key, offset=offset, length=n) as (info, body):
                if info.version != self.meta.version or info.etag != self.meta.etag:
                    # overwritten since this handle opened: never mix two versions in one read stream
                    raise PreconditionFailed(f"\"ais://{self.meta.bucket}/{self.meta.key}\" changed while open")
                self._buf = b"".join([chunk async for chunk in body])
            self._off = offset
        return self._buf[offset - self._off:end - self._off]

    def close(self) -> None:
        self._buf = b""


class TempStaging:
    """A private, already unlinked temp file: what a remote mount writes before the PUT at close."""

    sealed = False  # the PUT copies it: it never becomes anything else

    def __init__(self, staging_dir: Path) -> None:
        fd, path = tempfile.mkstemp(prefix="w-", dir=staging_dir)
        os.unlink(path)  # nothing to clean up after a crash
        self.fd = fd
        self.size = 0

    def pwrite(self, data: bytes | memoryview, offset: int) -> int:
        pwrite_all(self.fd, data, offset)
        self.size = max(self.size, offset + len(data))
        return len(data)

    def pread(self, size: int, offset: int) -> bytes:
        return os.pread(self.fd, size, offset)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        self.size = size

    def successor(self) -> "TempStaging":
        raise AssertionError("temp staging is never sealed")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class RemoteBackend:
    streams_writes = True

    def __init__(self, client: AsyncClient, staging_dir: Path) -> None:
        self.c = client
        self.staging_dir = staging_dir

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, endpoint: str, data_dir: Path | None) -> AsyncIterator["RemoteBackend"]:
        """Staging goes under `data_dir` when given, else a private temp dir removed at exit."""
        own = data_dir is None
        staging = Path(tempfile.mkdtemp(prefix="aisfs-staging-")) if own else data_dir / "fuse-staging"  # type: ignore[operator]
        staging.mkdir(parents=True, exist_ok=True)
        try:
            async with AsyncClient(endpoint) as client:
                await client.health()
                yield cls(client, staging)
        finally:
            if own:
                shutil.rmtree(staging, ignore_errors=True)

    async def list_buckets(self) -> list[str]:
        return [b["name"] for b in await self.c.list_buckets()]

    async def bucket_exists(self, bucket: str) -> bool:
        try:
            await self.c.head_bucket(bucket)
            return True
        except BucketNotFound:
            return False

    async def bucket_created_ns(self, bucket: str) -> int:
        return int((await self.c.head_bucket(bucket)).get("created") or 0)

    async def create_bucket(self, bucket: str) -> None:
        await self.c.create_bucket(bucket)

    async def destroy_empty_bucket(self, bucket: str) -> None:
        page = await self.c.list_objects(bucket, page_size=1, names_only=True)
        if page.get("entries"):
            raise BucketNotEmpty(f"bucket \"ais://{bucket}\" is not empty")
        await self.c.destroy_bucket(bucket)

    async def head(self, bucket: str, key: str) -> ObjectMeta | None:
        try:
            return _meta_from_info(await self.c.head_object(bucket, key))
        except ObjectNotFound:
            return None

    async def has_prefix(self, bucket: str, prefix: str) -> bool:
        page = await self.c.list_objects(bucket, prefix=prefix, page_size=1, names_only=True)
        return bool(page.get("entries"))

    async def list_page(self, bucket: str, prefix: str, token: str, page_size: int
                        ) -> tuple[list[ListEntry], str]:
        page = await self.c.list_objects(bucket, prefix=prefix, token=token, page_size=page_size, no_recursion=True,
                                         props=LIST_PROPS)
        out: list[ListEntry] = []
        for e in page.get("entries") or []:
            if int(e.get("flags", 0)) & ENTRY_IS_DIR:
                out.append(ListEntry(e["name"], is_dir=True))
            else:
                out.append(ListEntry(e["name"], meta=_meta_from_entry(bucket, e)))
        return out, page.get("continuation_token") or ""

    async def open_read(self, bucket: str, key: str) -> RemoteReader:
        meta = await self.head(bucket, key)
        if meta is None:
            raise ObjectNotFound(f"object \"ais://{bucket}/{key}\" does not exist")
        return RemoteReader(self.c, meta)

    async def put(self, bucket: str, key: str, body: AsyncIterable[bytes] | bytes, *, size: int | None,
                  custom: dict[str, str]) -> ObjectMeta:
        await self.c.put_object(bucket, key, body, size=size, custom=custom)
        meta = await self.head(bucket, key)
        if meta is None:
            raise ObjectNotFound(f"object \"ais://{bucket}/{key}\" vanished right after its PUT")
        return meta

    def new_staging(self, bucket: str, key: str) -> TempStaging:
        return TempStaging(self.staging_dir)

    async def commit_staged(self, bucket: str, key: str, staging: Staging, *, custom: dict[str, str]
                            ) -> ObjectMeta:
        assert isinstance(staging, TempStaging)
        body = staged_chunks(staging.fd, staging.size)
        return await self.put(bucket, key, body, size=staging.size, custom=custom)

    async def delete(self, bucket: str, key: str) -> None:
        await self.c.delete_object(bucket, key)

    async def rename(self, bucket: str, src: str, dst: str) -> None:
        await self.c.rename_object(bucket, src, dst)

    async def rename_prefix(self, bucket: str, src: str, dst: str) -> None:
        await self.c.rename_prefix(bucket, src, dst)

    async def update_meta(self, bucket: str, key: str, custom: dict[str, str]) -> ObjectMeta:
        await self.c.set_custom(bucket, key, custom, replace=True)  # the ops computed the whole new set
        meta = await self.head(bucket, key)
        if meta is None:
            raise ObjectNotFound(f"object \"ais://{bucket}/{key}\" vanished right after its metadata update")
        return meta

    async def capacity(self) -> tuple[int, int]:
        caps = await self.c.daemon("capacity")
        return sum(int(c["total"]) for c in caps), sum(int(c["avail"]) for c in caps)

    async def check_writable(self, bucket: str) -> None:
        """AccessDenied at open/create for a bucket whose access mask refuses PUTs."""
        props = await self.c.head_bucket(bucket)
        if "access" in props:
            check_access(props, ACCESS_PUT, bucket)

    async def sync(self, meta: ObjectMeta | None) -> None:
        """fsync(2) is durable whatever the server's write policy: under write_policy.fsync (its default) the
        server answered every change only once durable and this finds only its WAL to sync; with it off,
        this is what makes it survive a power loss. The server syncs everything committed (it cannot go by
        the file's name: it may have been renamed or unlinked since), so `meta` is not needed."""
        await self.c.sync()
