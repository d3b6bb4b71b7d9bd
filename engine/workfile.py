"""The one path by which object data reaches a mountpath.

Bytes go to a work file under `%wk/` while being hashed; only a complete, verified file is renamed
into `%ob/` (then fsynced there), and only then does an index row refer to it. Anything that goes
wrong before the row leaves no trace but a work file or an unreferenced data file, which `abort()`
removes (and start-up removes after a crash). A mirrored bucket's copies are work files on other
mountpaths, placed together with the original.
"""
from __future__ import annotations

import contextlib
import errno
import os
from typing import AsyncIterable, Iterator

import trio

from .checksum import Cksum, MultiHasher, new_hasher
from .durable import fsync_path, start_writeback
from .errors import BadDigest, EntityTooLarge, IncompleteBody, ObjectCorrupted, OutOfSpace, first_error
from .mountpath import Mountpath

BATCH = 1 << 20          # write + hash in a worker thread once this much is buffered
INLINE_WRITE = 256 << 10  # below this, writing to the page cache is cheaper than a thread hop
WRITEBACK_STEP = 8 << 20  # bytes written before the disk is asked to start on them (beside a slow hash)
LOM_XATTR = "user.ais.lom"
MAX_LOM = 4000
# copy_file_range(2) refusing a pair of files: across file systems (EXDEV), or not offered at all
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL})


def space_error(e: OSError) -> Exception:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutOfSpace(f"no space left on mountpath: {e.strerror}")
    return e


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """pwrite(2) until every byte is written (a short write is not an error)."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def copy_data(src_fd: int, size: int, dst_path: str, *, fsync: bool, cksum: Cksum | None = None) -> None:
    """Write a new file `dst_path` with the first `size` bytes of `src_fd` (blocking). With `cksum` the
    bytes are hashed on the way and a mismatch is ObjectCorrupted (rot is never copied). A real copy,
    never a reflink: a mirror copy must not share blocks with its original. Nothing is left on failure."""
    fd = os.open(dst_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        h = new_hasher(cksum.type) if cksum is not None and cksum.type != "none" else None
        pos = 0
        while pos < size:
            if h is None:
                n = os.sendfile(fd, src_fd, pos, min(BATCH * 8, size - pos))
            else:
                chunk = os.pread(src_fd, min(BATCH * 4, size - pos), pos)
                h.update(chunk)
                pwrite_all(fd, chunk, pos)
                n = len(chunk)
            if n == 0:
                raise ObjectCorrupted(f"data file ended after {pos} of {size} bytes")
            pos += n
        if h is not None and cksum is not None and h.hexdigest() != cksum.value:
            raise ObjectCorrupted(f"{cksum.type} of the source is {h.hexdigest()}, expected {cksum.value}")
        if fsync:
            os.fsync(fd)
    except BaseException as e:
        os.close(fd)
        os.unlink(dst_path)
        if isinstance(e, OSError):
            raise space_error(e) from e
        raise
    os.close(fd)


def read_range(fd: int, offset: int, length: int) -> Iterator[bytes]:
    """`length` bytes of `fd` from `offset`, in chunks of a few MiB (blocking); fewer if the file ends first."""
    pos, end = offset, offset + length
    while pos < end:
        chunk = os.pread(fd, min(BATCH * 4, end - pos), pos)
        if not chunk:
            return
        yield chunk
        pos += len(chunk)


def hash_range(hasher: MultiHasher, fd: int, offset: int, length: int) -> int:
    """Feed `length` bytes of `fd` from `offset` to `hasher` (blocking); returns how many there were."""
    n = 0
    for chunk in read_range(fd, offset, length):
        hasher.update(chunk)
        n += len(chunk)
    return n


class WorkFile:
    def __init__(self, mp: Mountpath, hash_types: set[str], *, access: int = os.O_WRONLY) -> None:
        self.mp = mp
        self.fid = mp.new_fid()
        self.path = mp.work_path(self.fid)
        self.hasher = MultiHasher(hash_types)
        self.size = 0
        self.copies: list[Mountpath] = []   # mirror copies made by `mirror`, placed with the file
        self.placed = False                 # renamed into `%ob` (with its copies), not yet referenced
        self.sealed = False                 # committed: an object's data now, never removed by its writer
        self.shared = False                 # a file this writer did not create (see `in_place`): never removed
        self._buf = bytearray()
        self._wb_from = 0                   # written bytes before this offset were handed to the disk
        self._fd = os.open(self.path, access | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)

    @classmethod
    def in_place(cls, mp: Mountpath, fid: str, hash_types: set[str], *, offset: int) -> "WorkFile":
        """A writer into a data file already in `%ob` that others refer to (a multipart upload's slab,
        see engine/multipart.py), from `offset` on. Nothing it does removes, renames or stamps the
        file: a failed write leaves bytes no row refers to, which the next writer of that range replaces."""
        wf = cls.__new__(cls)
        wf.mp, wf.fid, wf.path = mp, fid, mp.data_path(fid)
        wf.hasher = MultiHasher(hash_types)
        wf.size, wf.copies, wf._buf, wf._wb_from = 0, [], bytearray(), offset
        wf.placed, wf.sealed, wf.shared = False, False, True   # `place` places only its copies
        wf._fd = os.open(wf.path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.lseek(wf._fd, offset, os.SEEK_SET)
        except BaseException:
            os.close(wf._fd)
            raise
        return wf

    def _write_sync(self, data: bytes | bytearray | memoryview) -> None:
        self.hasher.update(data)
        self._write_only(data)

    def _write_only(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as e:
            raise space_error(e) from e

    async def receive(self, body: AsyncIterable[bytes], *, size: int | None, limit: int,
                      verify: dict[str, str]) -> None:
        """Take a whole request body and finish the file; refuse a body longer than declared (or than
        `limit`), shorter than declared, or without the checksums (type -> hex) its client claimed.

        The body is received while the batch before it is hashed and written in a worker thread, so
        the network and the disk work at the same time (one batch in flight: memory stays bounded)."""
        batches, to_write = trio.open_memory_channel[bytes | bytearray](0)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write_batches, to_write)
                async with batches:
                    async for chunk in body:  # immutable bytes: safe to hand over while the next arrives
                        self.size += len(chunk)
                        if size is not None and self.size > size:
                            raise IncompleteBody(f"request body is longer than its declared size {size}")
                        if self.size > limit:
                            raise EntityTooLarge(f"request body exceeds the {limit}-byte limit")
                        if not self._buf and len(chunk) >= BATCH:
                            await batches.send(chunk)
                            continue
                        self._buf += chunk
                        if len(self._buf) >= BATCH:
                            batch, self._buf = self._buf, bytearray()
                            await batches.send(batch)
        except BaseExceptionGroup as eg:
            raise first_error(eg) from None
        if size is not None and self.size != size:
            raise IncompleteBody(f"request body ended after {self.size} of {size} bytes")
        await self.finish()
        for t, want in verify.items():
            got = self.hasher.hexdigest(t)
            if got != want:
                raise BadDigest(f"{t} checksum mismatch: computed {got}, client sent {want}")

    async def _write_batches(self, batches: trio.MemoryReceiveChannel[bytes | bytearray]) -> None:
        """Each batch hashed and written; a slow hash (MD5, SHA) runs in a second thread beside the write."""
        async with batches:
            async for batch in batches:
                if not self.hasher.slow:
                    await trio.to_thread.run_sync(self._write_sync, batch)
                    continue
                async with trio.open_nursery() as both:
                    both.start_soon(trio.to_thread.run_sync, self.hasher.update, batch)
                    await trio.to_thread.run_sync(self._write_ahead_of_hash, batch)

    def _write_ahead_of_hash(self, data: bytes | bytearray) -> None:
        """Write a batch beside a slow hash (MD5, SHA), which sets the pace: the writer has time to start the
        disk on every WRITEBACK_STEP written, so the fsync before the answer finds little left to write.
        (Beside a fast hash the writer sets the pace, and doing this there made PUTs slower.)"""
        self._write_only(data)
        end = os.lseek(self._fd, 0, os.SEEK_CUR)
        if end - self._wb_from >= WRITEBACK_STEP:
            start_writeback(self._fd, self._wb_from, end - self._wb_from)
            self._wb_from = end

    async def copy_from(self, fd: int, offset: int, length: int) -> None:
        """Fill from another data file (object copy, multipart assembly). The kernel copies the bytes
        (`copy_file_range`: they never pass through Python) while a second thread reads and hashes
        them, so a slow checksum (MD5) and the copy take the time of the slower, not of both. Bytes a
        row refers to are never rewritten, so both threads see the same ones."""
        await self._flush()
        if not self.hasher.hashers:
            copied = await trio.to_thread.run_sync(self._copy_range, fd, offset, length)
            self.size += copied
            return
        hashed = 0

        async def hash_beside() -> None:
            nonlocal hashed
            hashed = await trio.to_thread.run_sync(self._hash_range, fd, offset, length)

        try:
            async with trio.open_nursery() as both:
                both.start_soon(hash_beside)
                copied = await trio.to_thread.run_sync(self._copy_range, fd, offset, length)
        except BaseExceptionGroup as eg:
            raise first_error(eg) from None
        if copied != hashed:
            raise ObjectCorrupted(f"source data changed while copied ({copied} bytes copied, {hashed} hashed)")
        self.size += copied

    def truncate(self, size: int) -> None:
        """Cut the file to `size` bytes (an adopted slab, past its last part)."""
        try:
            os.ftruncate(self._fd, size)
        except OSError as e:
            raise space_error(e) from e

    async def take_written(self, fd: int, offset: int, length: int) -> None:
        """Count bytes already in the file (read through `fd`) as written: hashed, not copied."""
        n = await trio.to_thread.run_sync(self._hash_range, fd, offset, length)
        if n != length:
            raise ObjectCorrupted(f"the file ended {length - n} bytes early")
        self.size += n

    def _hash_range(self, fd: int, offset: int, length: int) -> int:
        return hash_range(self.hasher, fd, offset, length)

    def _copy_range(self, fd: int, offset: int, length: int) -> int:
        """Append `length` bytes of `fd` from `offset` (fewer if it ends first); returns how many."""
        pos, end = offset, offset + length
        try:
            while pos < end:
                try:
                    n = os.copy_file_range(fd, self._fd, end - pos, pos)
                except OSError as e:
                    if e.errno not in _NO_KERNEL_COPY or pos != offset:
                        raise
                    break   # another file system (or none that copies): through user space instead
                if n == 0:
                    return pos - offset
                pos += n
            for chunk in read_range(fd, pos, end - pos):
                self._write_only(chunk)
                pos += len(chunk)
        except OSError as e:
            raise space_error(e) from e
        return pos - offset

    async def _flush(self) -> None:
        """Write what is buffered; a small remainder is written inline (a thread hop costs more)."""
        if self._buf:
            buf, self._buf = self._buf, bytearray()
            if len(buf) < INLINE_WRITE:
                self._write_sync(buf)
            else:
                await trio.to_thread.run_sync(self._write_sync, buf)

    async def finish(self) -> None:
        """All bytes written; checksums are now final."""
        await self._flush()

    async def mirror(self, targets: list[Mountpath], *, fsync: bool) -> None:
        """Copy the finished file to a work file on each target mountpath (in a worker thread); they
        are placed with it, or removed with it by `abort`."""
        def run() -> None:
            src = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                for mp in targets:
                    copy_data(src, self.size, mp.work_path(self.fid), fsync=fsync)
                    self.copies.append(mp)
            finally:
                os.close(src)

        await trio.to_thread.run_sync(run)

    def placed_files(self) -> list[tuple[int, str]]:
        """(mountpath id, file id) of the data file and its copies."""
        return [(mp.id, self.fid) for mp in (self.mp, *self.copies)]

    def own_files(self) -> list[tuple[int, str]]:
        """The placed files this writer may remove when its commit fails: a shared file is not among them."""
        return [(mp.id, self.fid) for mp in (*([] if self.shared else [self.mp]), *self.copies)]

    async def place(self, *, fsync: bool) -> None:
        """Rename the finished file and its copies into `%ob`, then (`fsync`) make the file and those
        directories durable there, the syncs side by side (the block layer merges their flushes). Rename
        first: the next file's create in `%wk` then no longer waits on this one, and on ext4 and XFS one
        journal commit covers data and rename. Nothing refers to the file until its row is committed: a
        crash leaves an orphan, which the start-up scan removes."""
        if not self.placed:
            done: list[Mountpath] = []
            try:
                ours = [] if self.shared else [self.mp]   # a shared file is in `%ob` already
                for mp in (*self.copies, *ours):   # the original last: once it is in place, so is every copy
                    mp.ensure_fanout(self.fid)
                    os.rename(mp.work_path(self.fid), mp.data_path(self.fid))
                    done.append(mp)
            except OSError as e:   # all or nothing: what moved goes back
                for mp in done:
                    os.rename(mp.data_path(self.fid), mp.work_path(self.fid))
                raise space_error(e) from e
            self.placed = True
        if fsync:
            dirs = {os.path.dirname(mp.data_path(self.fid)) for mp in (self.mp, *self.copies)}
            try:
                async with trio.open_nursery() as syncs:
                    syncs.start_soon(trio.to_thread.run_sync, os.fsync, self._fd)
                    for d in dirs:
                        syncs.start_soon(trio.to_thread.run_sync, fsync_path, d)
            except BaseExceptionGroup as eg:
                e = first_error(eg)
                raise (space_error(e) if isinstance(e, OSError) else e) from None

    def unplace(self) -> None:
        """Back to a work file (its copies removed), for a commit that failed before it was referenced."""
        self._remove(self.copies)
        self.copies = []
        if self.placed and not self.shared:
            os.rename(self.mp.data_path(self.fid), self.path)
        self.placed = False

    def commit(self, lom: bytes) -> str:
        """Stamp the metadata copy (`lom`, if any) on the placed file and let it go; returns the data file id."""
        if lom:
            self._stamp(lom)
        self.sealed = True
        os.close(self._fd)
        self._fd = -1
        return self.fid

    def _stamp(self, lom: bytes) -> None:
        assert self.placed, "a data file is placed before its row refers to it"
        if len(lom) <= MAX_LOM:
            try:
                os.setxattr(self._fd, LOM_XATTR, lom)
            except OSError:
                pass  # the index is authoritative; the xattr only helps rebuild it

    def abort(self) -> None:
        """Remove the file and its copies, wherever they are, unless committed (then only let go of it)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self.sealed:
            self._remove(self.copies if self.shared else [self.mp, *self.copies])
            self.copies = []

    def _remove(self, mps: list[Mountpath]) -> None:
        for mp in mps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(mp.data_path(self.fid) if self.placed else mp.work_path(self.fid))
