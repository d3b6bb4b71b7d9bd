"""Open files: read handles pin one object version; writes go to a staging file that becomes the object
at flush/fsync, so random writes, truncate and append all work on any object. Embedded, the staging file
is built on the object's mountpath and becomes its data file (no copy); remote, it is one PUT."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import AsyncIterator, Iterable, Iterator

import trio

from engine.meta import ObjectMeta

from .attrs import ATIME, CTIME, MTIME
from .backend import Backend, Reader, Staging
from .errnos import to_errno
from .upload import STREAM_MIN, Upload

CHUNK = 4 << 20
THREAD_WRITE = 256 * 1024  # larger writes go to a worker thread (page-cache throttling can block)


class WriteState:
    """One file's pending content, shared by every handle that writes it (one per inode)."""

    def __init__(self, staging: Staging, bucket: str, key: str, custom: dict[str, str]) -> None:
        self.file = staging
        self.bucket, self.key = bucket, key
        self.custom = dict(custom)
        self.dirty = False
        self.gen = 0             # bumped by every change, so a commit racing a write leaves it dirty
        self.deleted = False
        self.failed = 0          # errno of a write, truncate or commit that failed (see `_failing`)
        self.refs = 0
        self.mtime_ns = time.time_ns()
        self.lock = trio.Lock()  # held by commits, writes and truncates: a commit sees one content
        self.meta: ObjectMeta | None = None  # the committed object, once there is one
        self.nursery: trio.Nursery | None = None  # set by the ops: where streaming uploads run
        self.streamable = False   # every write so far appended to an initially empty file
        self.upload: Upload | None = None
        self._backend: Backend | None = None
        # Opened write-only by the first handle: every handle on it bypasses the kernel's page cache
        # (direct_io), so writes are one copy less and no handle can hold pages these writes make stale.
        self.direct = False

    @classmethod
    async def load(cls, backend: Backend, bucket: str, key: str, meta: ObjectMeta | None, *,
                   truncate: bool) -> "WriteState":
        """Staging for an existing object starts as a copy of it, unless the open truncates."""
        st = cls(backend.new_staging(bucket, key), bucket, key, meta.custom if meta else {})
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
                        await trio.to_thread.run_sync(st.file.pwrite, data, pos)
                        pos += len(data)
                    st.custom = dict(reader.meta.custom)
                finally:
                    reader.close()
            if meta is None:
                st.dirty = True
            elif truncate and meta.size:
                st.touch()
            st.streamable = st.size == 0 and backend.streams_writes
        except BaseException:
            st.close()
            raise
        return st

    @property
    def size(self) -> int:
        return self.file.size

    @property
    def detached(self) -> bool:
        """No longer what the name holds (unlinked, replaced, or a write failed): new opens, listings and
        commits pass it by; only its open handles still see it."""
        return self.deleted or self.failed != 0

    def _check(self) -> None:
        if self.failed:
            raise OSError(self.failed, "an earlier write or upload of this file failed; "
                                       "the object keeps its previous content")

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """A write or truncate that fails (a full disk) may leave part of its bytes in the staging, and a
        commit that fails was reported to the closing process: from then on nothing of the file is committed
        (the object keeps its previous content), readers opening it get that content, and every later write,
        flush and fsync on it fails the same way. A retry at release never lands what a close said failed."""
        self._check()
        try:
            yield
        except Exception as e:
            self.failed = to_errno(e)
            self._stop_streaming()
            raise

    def touch(self) -> None:
        """Content changed: the new object's times are the commit's, not ones set earlier by utimes."""
        self.dirty = True
        self.gen += 1
        self.mtime_ns = time.time_ns()
        for k in (MTIME, ATIME, CTIME):
            self.custom.pop(k, None)

    async def write(self, offset: int, data: bytes) -> int:
        async with self.lock:  # never into content a commit is hashing or has made an object's data
            with self._failing():
                await self._own_file()
                appending = offset == self.size
                if len(data) > THREAD_WRITE:
                    n = await trio.to_thread.run_sync(self.file.pwrite, data, offset)
                else:
                    n = self.file.pwrite(data, offset)
            self.touch()
            if not appending:
                self._stop_streaming()
            elif self.upload is not None:
                if not await self.upload.feed(offset, data[:n]):
                    self._stop_streaming()
            elif self.streamable and self.size >= STREAM_MIN and self.nursery is not None and self._backend is not None:
                self.upload = Upload(self._backend, self.bucket, self.key, self.custom, self.file.fd, self.size)
                self.nursery.start_soon(self.upload.run)
            return n

    async def _own_file(self) -> None:
        """Staging that a commit made the object's data file is never changed: continue on a copy."""
        if self.file.sealed:
            old, self.file = self.file, await trio.to_thread.run_sync(self.file.successor)
            old.close()

    def abandon_upload(self) -> None:
        """The streamed PUT must not land (unlinked, or renamed away): the staged copy is the truth."""
        self._stop_streaming()

    def _stop_streaming(self) -> None:
        self.streamable = False
        if self.upload is not None:
            self.upload.abort()
            self.upload = None

    def read(self, offset: int, size: int) -> bytes:
        return self.file.pread(size, offset)

    async def resize(self, size: int) -> None:
        """truncate(2) or O_TRUNC: never while a commit reads the staged copy (it would find it shrunk)."""
        async with self.lock:
            with self._failing():
                await self._own_file()
                await trio.to_thread.run_sync(self.file.truncate, size)
            self._stop_streaming()
            self.streamable = size == 0 and self._backend is not None and self._backend.streams_writes
            self.touch()

    async def commit(self, backend: Backend) -> None:
        """Make the content the object: finish the streaming PUT, else PUT the staged copy.

        Durable once it returns, as the engine fsyncs object data before indexing it.
        """
        async with self.lock:
            await self.commit_locked(backend)

    async def commit_locked(self, backend: Backend) -> None:
        """`commit` for a caller that holds `lock` (a rename: no commit may land under the old name)."""
        with self._failing():
            await self._commit(backend)

    async def _commit(self, backend: Backend) -> None:
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
        await self._own_file()  # a failed commit may have left it sealed
        self.meta = await backend.commit_staged(self.bucket, self.key, self.file, custom=dict(self.custom))
        self.dirty = self.gen != gen

    def close(self) -> None:
        self._stop_streaming()
        self.file.close()


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
