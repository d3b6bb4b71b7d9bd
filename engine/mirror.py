"""N-way mirror (AIStore's local mirroring): a mirrored bucket keeps `mirror.copies` copies of each data
file, every one on a different mountpath, so losing a disk (or rot in one copy) loses no object.

Copies are written before a write is acknowledged and renamed into place with the original; the
`copies` table names them by data file id in the same commit, so older versions, renames and bucket
moves keep them with no extra work. A read falls back to a copy when the original's mountpath is not
attached, or its file is missing, the wrong size or (when validated) the wrong checksum; a bad file on
an attached mountpath is then rewritten from the good one. `make-n-copies` (also started by changing a
bucket's mirror props) adds or removes copies of every object in the bucket.
"""
from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any, Iterator

import trio

from . import bprops, versions
from .checksum import Cksum
from .durable import fsync_dirs
from .errors import AisError, BadRequest, MountpathUnavailable, ObjectCorrupted
from .index import Row
from .jobs import Job
from .mountpath import Mountpath
from .workfile import WorkFile, copy_data

if TYPE_CHECKING:
    from .core import Engine
    from .meta import ObjectMeta
    from .objects import ObjectReader

log = logging.getLogger("aisfs.mirror")
SYNC_EVERY = 64   # make-n-copies makes its new copies durable in batches of this many objects
UNREADABLE = (ObjectCorrupted, MountpathUnavailable, OSError)


def copy_count(props: dict[str, Any]) -> int:
    """How many copies of each data file the bucket keeps (the original counts)."""
    m = props["mirror"]
    return int(m["copies"]) if m["enabled"] else 1


class MirrorOps:
    """Mixed into Engine."""

    def check_mirror(self: "Engine", props: dict[str, Any]) -> None:
        """Refuse props that ask for more copies than there are mountpaths to keep them apart."""
        n, have = copy_count(props), len(self.mountpaths.by_id)
        if n > have:
            raise BadRequest(f"mirror.copies={n} needs {n} mountpaths, and this node has {have} "
                             "(start it with one --mountpath per disk)")

    def _copy_targets(self: "Engine", bid: str, key: str, exclude: set[int], count: int) -> list[Mountpath]:
        """Up to `count` attached mountpaths for new copies, in the key's HRW order, none of `exclude`."""
        return [mp for mp in self.mountpaths.ranked(bid, key) if mp.id not in exclude][:max(0, count)]

    async def _mirror(self: "Engine", props: dict[str, Any], bid: str, key: str, wf: WorkFile) -> None:
        """A finished work file of a mirrored bucket gets its copies (placed with it at commit). With fewer
        mountpaths attached than copies asked for, it gets as many as there are (`make-n-copies` tops up)."""
        n = copy_count(props)
        if n > 1:
            await wf.mirror(self._copy_targets(bid, key, {wf.mp.id}, n - 1),
                            fsync=self.config.doc["write_policy"]["fsync"])

    def locations(self: "Engine", meta: "ObjectMeta") -> list[str]:
        """Attached mountpaths holding a copy of the version's data (AIStore's `Ais-Mirror-Paths`)."""
        mps = [meta.mp, *self.index.copies_of(meta.fid)] if meta.fid else []
        return [str(self.mountpaths.by_id[mp].path) for mp in mps if mp in self.mountpaths.by_id]

    # reads ------------------------------------------------------------------------------------------
    async def _open_data(self: "Engine", meta: "ObjectMeta", bid: str, validate: bool) -> "ObjectReader":
        """Open a version's data file, or a copy of it when that one cannot be read or is not the
        object's bytes; the bad one (on an attached mountpath) is rewritten from the good copy."""
        try:
            return await self._open_at(meta, meta.mp, bid, validate)
        except UNREADABLE as e:
            first = e
        failed = [meta.mp]
        for mp in self.index.copies_of(meta.fid):
            try:
                reader = await self._open_at(meta, mp, bid, validate)
            except UNREADABLE:
                failed.append(mp)
                continue
            self.stats.add("mirror.failover.n")
            await self._repair(bid, reader, failed)
            return reader
        raise first

    async def _repair(self: "Engine", bid: str, good: "ObjectReader", bad: list[int]) -> None:
        """Rewrite the bad files on attached mountpaths from a good copy; a failure is logged, the read goes on."""
        m = good.meta
        targets = [self.mountpaths.by_id[mp] for mp in bad if mp in self.mountpaths.by_id]
        try:
            done = await self._copy_to(bid, m.key, m.fid, m.size, m.cksum, good.fd, targets, sync=True)
            self.stats.add("mirror.repaired.n", len(done))
        except (OSError, AisError) as e:
            log.warning("could not repair the copies of \"ais://%s/%s\" on %s: %s", m.bucket, m.key,
                        ", ".join(str(mp.path) for mp in targets), e)

    async def _copy_to(self: "Engine", bid: str, key: str, fid: str, size: int, cksum: Cksum, src_fd: int,
                       targets: list[Mountpath], *, sync: bool) -> list[Mountpath]:
        """Write data file `fid` onto each target, checked against `cksum` on the way, and rename it into
        place while its owner (`key`'s current or an older version) still has it; returns where it did."""
        if not targets:
            return []
        fsync = self.config.doc["write_policy"]["fsync"]
        works = [(mp, mp.work_path(mp.new_fid())) for mp in targets]

        def copy_all() -> None:
            for _, work in works:
                copy_data(src_fd, size, work, fsync=fsync, cksum=cksum)

        try:
            await trio.to_thread.run_sync(copy_all)
            if not self._owns(bid, key, fid):   # deleted, replaced or renamed meanwhile: the copy is nobody's
                return []
            for mp, work in works:  # no await from the check to here: no one can let the file go between
                mp.ensure_fanout(fid)
                os.rename(work, mp.data_path(fid))
        finally:
            for _, work in works:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(work)
        if sync and fsync:
            await trio.to_thread.run_sync(fsync_dirs, [mp.data_path(fid) for mp in targets])
        return targets

    def _owns(self: "Engine", bid: str, key: str, fid: str) -> bool:
        row = self.index.get(bid, key)
        return (row is not None and row[2] == fid) or versions.holds(self, bid, key, fid)

    # make-n-copies ------------------------------------------------------------------------------------
    async def make_n_copies(self: "Engine", bucket: str, n: Any) -> Job:
        """AIStore's make-n-copies: the bucket keeps `n` copies from now on (1 turns mirroring off), and a
        job adds or removes copies of what it already holds."""
        if isinstance(n, str) and n.strip().isdigit():
            n = int(n)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise BadRequest(f"make-n-copies: the value must be a number of copies (1 or more), got {n!r}")
        new = bprops.apply(self.bucket_props(bucket), {"mirror.copies": n, "mirror.enabled": n > 1})
        self.check_mirror(new)
        self.bmd.put(bucket, new)
        return self._start_make_n_copies(bucket)

    def resilver(self: "Engine") -> None:
        """AIStore's resilver, after a start with a changed set of mountpaths: every mirrored bucket gets
        its copies back (on the disks attached now)."""
        for name, props in list(self.bmd.buckets.items()):
            if copy_count(props) > 1:
                self._start_make_n_copies(name)

    def _start_make_n_copies(self: "Engine", bucket: str) -> Job:
        """One make-n-copies job per bucket: one still running (for an older count) is aborted."""
        for old in self.jobs.list(kind="make-n-copies", bucket=bucket, running_only=True):
            self.jobs.abort(old.id)
        props = self.bucket_props(bucket)
        bid, n = props["bid"], copy_count(props)
        job = Job(kind="make-n-copies", bucket=bucket)
        job.total = self.index.summary(bid)[0]

        async def work(job: Job) -> None:
            placed: list[str] = []
            for i, row in enumerate(self._data_rows(bid)):
                try:
                    placed += await self._fix_copies(bid, row, n)
                except (OSError, AisError) as e:
                    job.error(f"{row[0]}: {e}")
                job.objs += 1
                job.bytes += row[3]
                if i % SYNC_EVERY == SYNC_EVERY - 1:
                    await self._sync_copies(placed)
                    placed = []
                await trio.lowlevel.checkpoint()
            await self._sync_copies(placed)

        return self.jobs.start(job, work)

    def _data_rows(self: "Engine", bid: str) -> Iterator[Row]:
        """Every version of the bucket that has data: current ones, then older ones."""
        yield from self.index.iter_prefix(bid, "")
        yield from versions.data_rows(self, bid)

    async def _fix_copies(self: "Engine", bid: str, row: Row, n: int) -> list[str]:
        """Bring one data file to `n` intact copies on attached mountpaths: rewrite missing or wrong ones,
        add new ones, drop the ones beyond `n` (never the original); returns the paths written."""
        key, mp0, fid, size, cksum = row[0], row[1], row[2], row[3], Cksum(row[4], row[5])
        copies = self.index.copies_of(fid)
        where = [mp0, *copies]
        paths = {mp: self._data_path(mp, fid) for mp in where}   # None: mountpath not attached
        sizes = await trio.to_thread.run_sync(lambda: {mp: _size(p) for mp, p in paths.items()})
        good = [mp for mp in where if sizes[mp] == size]
        if not good:
            raise ObjectCorrupted(f"no intact copy of its data on an attached mountpath ({len(where)} known)")
        bad = [self.mountpaths.by_id[mp] for mp in where if paths[mp] is not None and sizes[mp] != size]
        new = self._copy_targets(bid, key, set(where), n - len(good) - len(bad))
        written: list[Mountpath] = []
        if bad or new:
            src = paths[good[0]]
            assert src is not None
            fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
            try:
                written = await self._copy_to(bid, key, fid, size, cksum, fd, bad + new, sync=False)
            finally:
                os.close(fd)
            if written:  # still its owner's (checked by _copy_to with no await since)
                self.index.add_copies(fid, [mp.id for mp in new])
        intact = good + [mp.id for mp in written]
        keep = ([mp0] if mp0 in intact else []) + [mp for mp in intact if mp != mp0]
        if extra := [mp for mp in copies if mp in intact and mp not in keep[:n]]:
            self.index.drop_copies(fid, extra)
            self._unlink_files([(mp, fid) for mp in extra], with_copies=False)
        return [mp.data_path(fid) for mp in written]

    async def _sync_copies(self: "Engine", placed: list[str]) -> None:
        """New copies' directories, then the index rows naming them, made durable (under write_policy.fsync)."""
        if placed and self.config.doc["write_policy"]["fsync"]:
            await trio.to_thread.run_sync(fsync_dirs, placed)
        if placed:
            await trio.to_thread.run_sync(self.index.sync)


def _size(path: str | None) -> int:
    """The file's size; -1 when it is missing, -2 when its mountpath is not attached."""
    if path is None:
        return -2
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return -1

