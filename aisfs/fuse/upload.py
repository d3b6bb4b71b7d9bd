"""Streaming uploads: a file written sequentially is PUT while it is written, so close only waits for the
tail. Staging still gets every byte, so the first out-of-order write just abandons the stream."""
from __future__ import annotations

import os
from typing import AsyncIterator

import trio

from engine.meta import ObjectMeta

from .backend import Backend

STREAM_MIN = 4 << 20     # smaller files are one PUT at close: a stream's task and channel would cost more
CHANNEL_CHUNKS = 8       # backpressure: a writer waits when the store falls this far behind
CHUNK = 4 << 20          # a staging file is read for a PUT in pieces of this much


class Upload:
    """One PUT fed by sequential writes; its first `prefix` bytes come from the staging file."""

    def __init__(self, backend: Backend, bucket: str, key: str, custom: dict[str, str], staging_fd: int,
                 prefix: int) -> None:
        self.b = backend
        self.bucket, self.key = bucket, key
        self.custom = dict(custom)
        self.pos = prefix                      # bytes handed to the stream so far
        self._fd, self._prefix = staging_fd, prefix
        self._send, self._recv = trio.open_memory_channel[bytes](CHANNEL_CHUNKS)
        self._scope = trio.CancelScope()
        self.done = trio.Event()
        self.meta: ObjectMeta | None = None
        self.failed = False

    async def run(self) -> None:
        """The PUT itself, as a task of the mount's nursery (so shutdown cancels it: staging takes over)."""
        try:
            with self._scope:
                self.meta = await self.b.put(self.bucket, self.key, self._body(), size=None, custom=self.custom)
        except Exception:
            self.failed = True  # the staged copy will be uploaded instead, and report the error if it persists
        finally:
            self.failed = self.failed or self.meta is None
            self._recv.close()
            self.done.set()

    async def _body(self) -> AsyncIterator[bytes]:
        async for chunk in staged_chunks(self._fd, self._prefix):
            yield chunk
        async for chunk in self._recv:
            yield chunk

    async def feed(self, offset: int, data: bytes) -> bool:
        """Hand on the next bytes; False when they are not next or the stream is gone (fall back)."""
        if self.failed or offset != self.pos:
            return False
        self.pos += len(data)
        try:
            await self._send.send(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.failed = True
            return False
        return True

    def abort(self) -> None:
        self.failed = True
        self._scope.cancel()
        self._send.close()

    async def finish(self) -> ObjectMeta | None:
        """End the stream and wait for the PUT; None if it failed (the caller uploads the staged copy)."""
        self._send.close()
        await self.done.wait()
        return None if self.failed else self.meta


async def staged_chunks(fd: int, size: int) -> AsyncIterator[bytes]:
    """Bytes [0, size) of a staging file as a PUT body, read a chunk at a time in a worker thread."""
    pos = 0
    while pos < size:
        data = await trio.to_thread.run_sync(os.pread, fd, min(CHUNK, size - pos), pos)
        if not data:
            raise OSError("staging file shrank during upload")
        pos += len(data)
        yield data
