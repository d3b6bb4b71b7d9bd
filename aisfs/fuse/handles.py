"""Open files: read handles pin one object version; writes go to a staging file and become the object
at flush/fsync (one PUT), so random writes, truncate and append all work on any object."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from typing import AsyncIterator, Iterable

import trio

from engine.meta import ObjectMeta

from .attrs import ATIME, CTIME, MTIME
from .backend import Backend, Reader
from .upload import STREAM_MIN, Upload

CHUNK = 4 << 20
THREAD_WRITE = 256 * 1024  # larger writes go to a worker thread (page-cache throttling can block)


class WriteState:
    """One file's pending content, shared by every handle that writes it (one per inode)."""

    def __init__(self, staging_dir: str, bucket: str, key: str, custom: dict[str, str]) -> None:
        fd, path = tempfile.mkstemp(prefix="w-", dir=staging_dir)
        os.unlink(path)  # nothing to clean up after a crash
        self.fd = fd
        self.bucket, self.key = bucket, key
        self.custom = dict(custom)
        self.size = 0
        self.dirty = False
        self.gen = 0             # bumped by every change, so a commit racing a write leaves it dirty
        self.deleted = False
        self.refs = 0
        self.mtime_ns = time.time_ns()
        self.lock = trio.Lock()
        self.meta: ObjectMeta | None = None  # the committed object, once there is one
        self.nursery: trio.Nursery | None = None  # set by the ops: where streaming uploads run
        self.streamable = False   # every write so far appended to an initially empty file
        self.upload: Upload | None = None
        self._backend: Backend | None = None

    @classmethod
    async def load(cls, backend: Backend, bucket: str, key: str, meta: ObjectMeta | None, *,
                   truncate: bool) -> "WriteState":
        """Staging for an existing object starts as a copy of it, unless the open truncates."""
        st = cls(str(backend.staging_dir), bucket, key, meta.custom if meta else {})
        st.meta = meta
        st._backend = backend
        try:
            if meta is not None and not truncate and meta.size:
                reader = await backend.open_read(bucket, key)
                try:
                    pos = 0
                    while pos < reader.meta.size:
                        data = await reader.pread(min(CHUNK, reader.meta.size - pos), pos)
                        if not data:
                            break
                        await trio.to_thread.run_sync(os.pwrite, st.fd, data, pos)
                        pos += len(data)
                    st.size = pos
                    st.custom = dict(reader.meta.custom)
                finally:
                    reader.close()
            if meta is None:
                st.dirty = True
            elif truncate and meta.size:
                st.touch()
            st.streamable = st.size == 0
        except BaseException:
            st.close()
            raise
        return st

    def touch(self) -> None:
        """Content changed: the new object's times are the commit's, not ones set earlier by utimes."""
        self.dirty = True
        self.gen += 1
        self.mtime_ns = time.time_ns()
        for k in (MTIME, ATIME, CTIME):
            self.custom.pop(k, None)

    async def write(self, offset: int, data: bytes) -> int:
        appending = offset == self.size
        if len(data) > THREAD_WRITE:
            n = await trio.to_thread.run_sync(os.pwrite, self.fd, data, offset)
        else:
            n = os.pwrite(self.fd, data, offset)
        self.size = max(self.size, offset + n)
        self.touch()
        if not appending:
            self._stop_streaming()
        elif self.upload is not None:
            if not await self.upload.feed(offset, data[:n]):
                self._stop_streaming()
        elif self.streamable and self.size >= STREAM_MIN and self.nursery is not None and self._backend is not None:
            self.upload = Upload(self._backend, self.bucket, self.key, self.custom, self.fd, self.size)
            self.nursery.start_soon(self.upload.run)
        return n

    def abandon_upload(self) -> None:
        """The streamed PUT must not land (unlinked, or renamed away): the staged copy is the truth."""
        self._stop_streaming()

    def _stop_streaming(self) -> None:
        self.streamable = False
        if self.upload is not None:
            self.upload.abort()
            self.upload = None

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self.fd, size, offset)

    async def resize(self, size: int) -> None:
        """truncate(2) or O_TRUNC: never while a commit reads the staged copy (it would find it shrunk)."""
        async with self.lock:
            await trio.to_thread.run_sync(self.truncate, size)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        self._stop_streaming()
        self.streamable = size == 0
        self.size = size
        self.touch()

    async def _body(self, size: int) -> AsyncIterator[bytes]:
        pos = 0
        while pos < size:
            data = await trio.to_thread.run_sync(os.pread, self.fd, min(CHUNK, size - pos), pos)
            if not data:
                raise OSError("staging file shrank during upload")
            pos += len(data)
            yield data

    async def commit(self, backend: Backend) -> None:
        """Make the content the object: finish the streaming PUT, else PUT the staged copy.

        Durable once it returns, as the engine fsyncs object data before indexing it.
        """
        async with self.lock:
            await self.commit_locked(backend)

    async def commit_locked(self, backend: Backend) -> None:
        """`commit` for a caller that holds `lock` (a rename: no commit may land under the old name)."""
        if not self.dirty or self.deleted:
            if self.upload is not None and self.deleted:
                self._stop_streaming()
            return
        gen, size = self.gen, self.size
        up, self.upload = self.upload, None
        self.streamable = False
        if up is not None:
            meta = await up.finish() if up.pos == size else None
            if meta is None:
                up.abort()
            else:
                if up.custom != self.custom:  # chmod/utimes while it streamed (cp -a does that before close)
                    meta = await backend.update_meta(self.bucket, self.key, dict(self.custom))
                self.meta = meta
                self.dirty = self.gen != gen
                return
        self.meta = await backend.put(self.bucket, self.key, self._body(size), size=size, custom=dict(self.custom))
        self.dirty = self.gen != gen

    def close(self) -> None:
        self._stop_streaming()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@contextlib.asynccontextmanager
async def holding_commits(states: Iterable[tuple[int, WriteState]]) -> AsyncIterator[None]:
    """Hold these files' commit locks, taken in inode order so two renames never wait on each other in a
    cycle: while a name changes hands no close (from any process) can commit under the old one."""
    async with contextlib.AsyncExitStack() as stack:
        for _, st in sorted(states, key=lambda pair: pair[0]):
            await stack.enter_async_context(st.lock)
        yield


@dataclass(slots=True)
class Handle:
    """An open file: `reader` for read-only opens, `state` when the handle may write."""

    ino: int
    reader: Reader | None = None
    state: WriteState | None = None
    writable: bool = False

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None
