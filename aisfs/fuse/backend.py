"""What the FUSE ops need from a store, and the embedded implementation over an in-process Engine.

Remote mode implements the same protocol over the `/v1` REST client; the ops never see which one runs.
"""
from __future__ import annotations

import os
import shutil
from typing import AsyncIterable, Protocol

import trio

from engine.bprops import ACCESS_PUT, check_access
from engine.core import Engine
from engine.errors import ObjectNotFound
from engine.meta import ListEntry, ObjectMeta
from engine.staged import StagedFile


class Reader(Protocol):
    """One pinned object version open for reading."""

    meta: ObjectMeta

    async def pread(self, size: int, offset: int) -> bytes | memoryview: ...

    def close(self) -> None: ...


class Staging(Protocol):
    """A file being written through the mount; `sealed` once a commit made it an object's data (then
    changes go to its `successor`). Blocking methods: the caller picks a thread for large work."""

    size: int
    sealed: bool

    @property
    def fd(self) -> int: ...

    def pwrite(self, data: bytes | memoryview, offset: int) -> int: ...
    def pread(self, size: int, offset: int) -> bytes: ...
    def truncate(self, size: int) -> None: ...
    def successor(self) -> "Staging": ...
    def close(self) -> None: ...


class Backend(Protocol):
    streams_writes: bool  # a sequential write is PUT while it is written (else the staging file is the object)

    async def list_buckets(self) -> list[str]: ...
    async def bucket_exists(self, bucket: str) -> bool: ...
    async def bucket_created_ns(self, bucket: str) -> int: ...
    async def create_bucket(self, bucket: str) -> None: ...
    async def destroy_empty_bucket(self, bucket: str) -> None: ...
    async def head(self, bucket: str, key: str) -> ObjectMeta | None: ...
    async def has_prefix(self, bucket: str, prefix: str) -> bool: ...
    async def list_page(self, bucket: str, prefix: str, token: str, page_size: int
                        ) -> tuple[list[ListEntry], str]: ...
    async def open_read(self, bucket: str, key: str) -> Reader: ...
    async def put(self, bucket: str, key: str, body: AsyncIterable[bytes] | bytes, *, size: int | None,
                  custom: dict[str, str]) -> ObjectMeta: ...
    def new_staging(self, bucket: str, key: str) -> Staging: ...
    async def commit_staged(self, bucket: str, key: str, staging: Staging, *, custom: dict[str, str]
                            ) -> ObjectMeta: ...
    async def delete(self, bucket: str, key: str) -> None: ...
    async def rename(self, bucket: str, src: str, dst: str) -> None: ...
    async def rename_prefix(self, bucket: str, src: str, dst: str) -> None: ...
    async def update_meta(self, bucket: str, key: str, custom: dict[str, str]) -> ObjectMeta: ...
    async def capacity(self) -> tuple[int, int]: ...
    async def sync(self, meta: ObjectMeta | None) -> None: ...
    async def check_writable(self, bucket: str) -> None: ...


class EmbeddedReader:
    def __init__(self, inner: object) -> None:
        self._r = inner
        self.meta: ObjectMeta = inner.meta  # type: ignore[attr-defined]

    async def pread(self, size: int, offset: int) -> bytes | memoryview:
        """What the page cache holds is copied on the loop; only the rest waits for the disk, in a thread,
        so a cold read never stalls other requests and a warm one costs no thread hop."""
        fd = self._r.fd  # type: ignore[attr-defined]
        buf = memoryview(bytearray(size))
        got = _cached_pread(fd, buf, offset)
        if got < size and offset + got < self.meta.size:
            got += await trio.to_thread.run_sync(os.preadv, fd, [buf[got:]], offset + got)
        return buf[:got]

    def close(self) -> None:
        self._r.close()  # type: ignore[attr-defined]


def _cached_pread(fd: int, buf: memoryview, offset: int) -> int:
    """preadv2(RWF_NOWAIT): the bytes already in the page cache, 0 if reading would wait for the disk."""
    try:
        return os.preadv(fd, [buf], offset, os.RWF_NOWAIT)
    except OSError:  # EAGAIN: not cached; EOPNOTSUPP: a filesystem without it
        return 0


class EmbeddedBackend:
    """The engine in this process: reads go straight to the data files, and a file written through the
    mount is staged on its mountpath and becomes the object's data file at commit, written once."""

    streams_writes = False

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        shutil.rmtree(engine.data_dir / "fuse-staging", ignore_errors=True)  # the staging dir of earlier builds

    async def list_buckets(self) -> list[str]:
        return [b["name"] for b in await self.engine.list_buckets()]

    async def bucket_exists(self, bucket: str) -> bool:
        return self.engine.bmd.get(bucket) is not None

    async def bucket_created_ns(self, bucket: str) -> int:
        return int(self.engine.bucket_props(bucket).get("created") or 0)

    async def create_bucket(self, bucket: str) -> None:
        await self.engine.create_bucket(bucket)

    async def destroy_empty_bucket(self, bucket: str) -> None:
        await self.engine.destroy_bucket(bucket, force=False)

    async def head(self, bucket: str, key: str) -> ObjectMeta | None:
        try:
            return await self.engine.head_object(bucket, key)
        except ObjectNotFound:
            return None

    async def has_prefix(self, bucket: str, prefix: str) -> bool:
        return await self.engine.has_prefix(bucket, prefix)

    async def list_page(self, bucket: str, prefix: str, token: str, page_size: int
                        ) -> tuple[list[ListEntry], str]:
        """One page of `prefix`'s children (`/` folded into directories) and the next page's token ("" at end)."""
        page = await self.engine.list_objects(bucket, prefix=prefix, token=token, page_size=page_size, delimiter="/")
        return page.entries, page.token

    async def open_read(self, bucket: str, key: str) -> Reader:
        return EmbeddedReader(await self.engine.open_object(bucket, key))

    async def put(self, bucket: str, key: str, body: AsyncIterable[bytes] | bytes, *, size: int | None,
                  custom: dict[str, str]) -> ObjectMeta:
        return await self.engine.put_object(bucket, key, body, size=size, custom=custom)

    def new_staging(self, bucket: str, key: str) -> Staging:
        return self.engine.new_staged(bucket, key)

    async def commit_staged(self, bucket: str, key: str, staging: Staging, *, custom: dict[str, str]
                            ) -> ObjectMeta:
        assert isinstance(staging, StagedFile)
        return await self.engine.put_staged(bucket, key, staging, custom=custom)

    # Namespace changes are durable at fsync(2) of the file or its directory (`sync`), as POSIX has it,
    # not each on its own: `rm -r` and `mv` of many files wait for no disk flush per file.
    async def delete(self, bucket: str, key: str) -> None:
        await self.engine.delete_object(bucket, key, durable=False)

    async def rename(self, bucket: str, src: str, dst: str) -> None:
        await self.engine.rename_object(bucket, src, dst, durable=False)

    async def rename_prefix(self, bucket: str, src: str, dst: str) -> None:
        await self.engine.rename_prefix(bucket, src, dst, durable=False)

    async def update_meta(self, bucket: str, key: str, custom: dict[str, str]) -> ObjectMeta:
        return await self.engine.update_object_meta(bucket, key, custom=custom, durable=False)

    async def check_writable(self, bucket: str) -> None:
        """AccessDenied now (at open/create) rather than at close, for a bucket that takes no PUTs."""
        check_access(self.engine.bucket_props(bucket), ACCESS_PUT, bucket)

    async def sync(self, meta: ObjectMeta | None) -> None:
        """fsync(2) of a mount: the object's data on disk (even if write_policy.fsync is off), then the index."""
        await self.engine.sync(meta)

    async def capacity(self) -> tuple[int, int]:
        caps = self.engine.capacity()
        return sum(int(c["total"]) for c in caps), sum(int(c["avail"]) for c in caps)  # type: ignore[call-overload]
