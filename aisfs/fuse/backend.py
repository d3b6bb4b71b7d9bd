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


READ_BUFFER = 1 << 20  # the largest READ the kernel sends (FUSE's 256-page default), so one size serves all


class ReadBuffers:
    """Buffers for READ replies, reused: a fresh 1 MiB buffer per READ cost the daemon a quarter of its CPU
    on a cold sequential read (page faults, zeroing, freeing), more than the copy of the data itself.

    pyfuse3 writes the buffer a `read` handler returns to /dev/fuse before any other task runs, and lets go
    of it then. A buffer comes back at a later `take` only once `memoryview.release()` on the view handed
    out succeeds, which it does only when nothing holds an export of it; after that, any use of the view
    would raise rather than see another READ's bytes."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._free: list[bytearray] = []
        self._out: list[tuple[bytearray, memoryview]] = []

    def take(self, size: int) -> bytearray:
        """A buffer of at least `size` bytes; its contents are whatever was read into it before."""
        self._reclaim()
        while self._free:
            raw = self._free.pop()
            if len(raw) >= size:
                return raw
        return bytearray(max(size, READ_BUFFER))

    def hand_over(self, raw: bytearray, view: memoryview) -> memoryview:
        """`view` (into `raw`) is the reply: `raw` is reused once the reply has been sent."""
        self._out.append((raw, view))
        return view

    def _reclaim(self) -> None:
        held = []
        for raw, view in self._out:
            try:
                view.release()
            except BufferError:
                held.append((raw, view))
            else:
                if len(self._free) < self._keep:
                    self._free.append(raw)
        self._out = held[-self._keep:]  # one still held this long is left to the garbage collector, untracked


class EmbeddedReader:
    def __init__(self, inner: object, buffers: ReadBuffers) -> None:
        self._r = inner
        self._buffers = buffers
        self.meta: ObjectMeta = inner.meta  # type: ignore[attr-defined]

    async def pread(self, size: int, offset: int) -> bytes | memoryview:
        """What the page cache holds is copied on the loop; only the rest waits for the disk, in a thread,
        so a cold read never stalls other requests and a warm one costs no thread hop."""
        fd = self._r.fd  # type: ignore[attr-defined]
        self._r.reading(offset, size)  # type: ignore[attr-defined]
        raw = self._buffers.take(size)
        buf = memoryview(raw)[:size]
        got = _cached_pread(fd, buf, offset)
        if got < size and offset + got < self.meta.size:
            got += await trio.to_thread.run_sync(os.preadv, fd, [buf[got:]], offset + got)
        return self._buffers.hand_over(raw, buf[:got])

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
        self._read_buffers = ReadBuffers()
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
        return EmbeddedReader(await self.engine.open_object(bucket, key), self._read_buffers)

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
