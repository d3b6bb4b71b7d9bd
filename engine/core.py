"""The Engine: lifecycle, config, buckets, jobs and daemon info.

Object operations live in `objects.py` and listing in `listing.py`; both are mixed into `Engine`
so every face sees one async API.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import resource
import time
from pathlib import Path
from typing import Any, AsyncIterator

import trio

from . import bprops, jsonfile, multipart, names, versions
from .bmd import BMD
from .cleanup import clean_orphans
from .config import ClusterConfig
from .durable import fsync_path
from .errors import BucketAlreadyExists, BucketNotEmpty, BucketNotFound, BadRequest
from .generation import MetaGeneration
from .index import Index, IndexReader
from .jobs import Job, Jobs
from .listing import ListingOps
from .mirror import MirrorOps, copy_count
from .mountpath import Mountpaths, lock_dir
from .objects import ObjectOps
from .openfiles import OpenFiles
from .prefetch import Prefetcher
from .stats import Stats
from .writeback import Writeback

log = logging.getLogger("aisfs.engine")
MOUNTPATHS_FILE = "mountpaths.json"
CLEAN_MARK = "clean-shutdown.json"  # written by a clean shutdown, taken away at the next start
DEFAULT_MOUNTPATH = "mpath"
ATIME_FLUSH_SECONDS = 10.0


FileRef = tuple[int, str]  # (mountpath id, data file id)
OPEN_FILES_WANTED = 65536


def raise_open_files_limit() -> None:
    """Connections, kept data files and work files all hold descriptors; the soft limit many systems start
    with (1024) would refuse connections long before the server is busy. Raised towards the hard limit,
    as Go programs (AIStore among them) do at start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Engine(ObjectOps, ListingOps, MirrorOps):
    """One data directory's store. Open it with `async with Engine.open(data_dir) as engine:`."""

    def __init__(self, data_dir: Path, mountpaths: list[Path] | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = lock_dir(self.data_dir, "data directory")
        try:
            self.index = Index(self.data_dir / "index.db")  # first: it refuses a newer format before anything is written
            self.config = ClusterConfig(self.data_dir)
            self.bmd = BMD(self.data_dir)
            self.generation = MetaGeneration(self.data_dir, create=True)
            self.bmd.saved = self.config.saved = self.generation.bump
            self.bmd.ensure_uuid()
            self.mountpaths, self._mountpaths_changed = self._attach_mountpaths(mountpaths)
        except BaseException:
            if hasattr(self, "index"):
                self.index.close()
            os.close(self._lock_fd)
            raise
        self.jobs = Jobs()
        self.stats = Stats()
        self._atimes: dict[tuple[str, str], int] = {}
        self._doomed, self._doomed_recv = trio.open_memory_channel[list[FileRef]](math.inf)
        self.prefetcher = Prefetcher(IndexReader(self.index.path), self._data_path)
        self.writeback = Writeback()
        self.open_files = OpenFiles()
        self.mpu_slots = multipart.Slots()
        self.started_ns = time.time_ns()

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, data_dir: Path | str, mountpaths: list[Path] | None = None) -> AsyncIterator["Engine"]:
        """Open the store and run its housekeeping (atime write-back, reaper, read-ahead, jobs) until the block
        exits."""
        raise_open_files_limit()
        eng = cls(Path(data_dir), [Path(p) for p in mountpaths] if mountpaths else None)
        clean = False
        try:
            scan = not eng._take_clean_mark()
            async with trio.open_nursery() as nursery:
                try:
                    # its own limiter: the read-ahead thread runs as long as the engine, and takes no
                    # slot from the worker threads that reads and writes wait on
                    nursery.start_soon(functools.partial(trio.to_thread.run_sync, eng.prefetcher.serve,
                                                         limiter=trio.CapacityLimiter(1)))
                    nursery.start_soon(functools.partial(trio.to_thread.run_sync, eng.writeback.serve,
                                                         limiter=trio.CapacityLimiter(1)))
                    eng.jobs.attach(nursery)
                    nursery.start_soon(eng._atime_flusher)
                    nursery.start_soon(eng._reaper)
                    if scan:  # taken before any request can place a file
                        since = {mp.id: mp.fs_time_ns() for mp in eng.mountpaths.by_id.values()}
                        eng.jobs.start(Job(kind="cleanup-store", bucket=""), lambda job: clean_orphans(eng, job, since))
                    if eng._mountpaths_changed:
                        eng.resilver()
                    yield eng
                finally:  # the threads are told first: a cancelled nursery still waits for them
                    eng.prefetcher.stop()
                    eng.writeback.stop()
                    nursery.cancel_scope.cancel()
            clean = True
        finally:
            eng._close(clean=clean)

    def _attach_mountpaths(self, given: list[Path] | None) -> tuple[Mountpaths, bool]:
        """`--mountpath` replaces the default and is remembered, so a restart without it finds the data;
        also says whether the set differs from the one remembered."""
        stored = jsonfile.load(self.data_dir / MOUNTPATHS_FILE)
        if given:
            paths = [p.resolve() for p in given]
        elif stored:
            paths = [Path(p) for p in stored["mountpaths"]]
        else:
            paths = [self.data_dir / DEFAULT_MOUNTPATH]
        if len(set(paths)) != len(paths):
            raise BadRequest("the same mountpath is given twice")
        mps = Mountpaths([(self.index.mountpath_id(str(p)), p) for p in paths])
        mps.open()
        try:  # remembered only once usable: a failed --mountpath must not replace a working set
            jsonfile.save(self.data_dir / MOUNTPATHS_FILE, {"mountpaths": [str(p) for p in paths]})
        except BaseException:
            mps.close()
            raise
        for mp in mps.by_id.values():
            if n := mp.clean_work():
                log.info("removed %d unfinished work file(s) from %s", n, mp.path)
        return mps, bool(stored) and sorted(stored["mountpaths"]) != sorted(map(str, paths))

    def _close(self, *, clean: bool) -> None:
        self.open_files.close()
        self._reap_leftovers()
        self.prefetcher.close()
        self._flush_atimes()
        self.index.close()
        self.mountpaths.close()
        self.generation.close()
        if clean:  # nothing in flight, nothing left to reap: the next start need not look for orphans
            jsonfile.save(self.data_dir / CLEAN_MARK, {"mountpaths": self._mountpath_list()})
        os.close(self._lock_fd)

    def _take_clean_mark(self) -> bool:
        """Whether the last run shut down cleanly on these mountpaths (only a crash, or a kill in the middle
        of a write, leaves data files no row refers to). The mark is taken away, durably, before this run
        writes anything, so a crash from now on leaves none behind and the next start looks."""
        mark = self.data_dir / CLEAN_MARK
        try:
            doc = jsonfile.load(mark)
        except ValueError:  # not what a shutdown wrote: look for orphans
            doc = {}
        if doc is None:
            return False
        mark.unlink()
        fsync_path(self.data_dir)
        return isinstance(doc, dict) and doc.get("mountpaths") == self._mountpath_list()

    def _mountpath_list(self) -> list[str]:
        return sorted(str(mp.path) for mp in self.mountpaths.by_id.values())

    # atime ------------------------------------------------------------------------------------
    def _note_atime(self, bid: str, key: str) -> None:
        """Reads only note the time in memory; a read never waits on a metadata write."""
        self._atimes[(bid, key)] = time.time_ns()

    def absorb(self, atimes: list[tuple[str, str, int]], counters: dict[str, int]) -> None:
        """What a worker process read (`aisfs serve --workers`): its atimes join this process's, batched
        the same way, and its counters join the stats."""
        for bid, key, t in atimes:
            if t > self._atimes.get((bid, key), 0):
                self._atimes[(bid, key)] = t
        for name, n in counters.items():
            self.stats.add(name, n)

    def _flush_atimes(self) -> None:
        if self._atimes:
            batch, self._atimes = self._atimes, {}
            self.index.touch((t, bid, key) for (bid, key), t in batch.items())

    async def _atime_flusher(self) -> None:
        while True:
            await trio.sleep(ATIME_FLUSH_SECONDS)
            self._flush_atimes()

    # removing data files ------------------------------------------------------------------------
    def _unlink_files(self, files: list[FileRef], *, with_copies: bool = True) -> None:
        """Data files no index row references any more (and, `with_copies`, their mirror copies) go to the
        reaper: unlinking a 1 GiB file that sits in the page cache takes ~0.2 s here (4 GiB: 0.76 s), which
        must not stall every other request. Until the reaper gets to them they are unreferenced files,
        which the cleanup job reclaims after a crash."""
        if files and with_copies:
            files = files + self.index.pop_copies([fid for _, fid in files])
        if files:
            self.open_files.drop(files)
            try:
                self._doomed.send_nowait(files)
            except trio.ClosedResourceError:  # the engine is closing: no reaper any more
                self._unlink_now(files)

    async def _reaper(self) -> None:
        async for files in self._doomed_recv:
            while True:  # take whatever else is queued into the same worker-thread call
                try:
                    files = files + self._doomed_recv.receive_nowait()
                except trio.WouldBlock:
                    break
            with trio.CancelScope(shield=True):  # a batch taken off the queue is always finished, even at close
                await trio.to_thread.run_sync(self._unlink_now, files)

    def _unlink_now(self, files: list[FileRef]) -> None:
        """The commits that let these files go are made durable first: a power loss must never bring back
        a row whose data file is gone (one WAL fsync per batch; on ext4 and XFS it also commits the
        journal holding the renames that put the replacing files in place)."""
        if not files:
            return
        self.index.sync()
        for mp_id, fid in files:
            path = self._data_path(mp_id, fid)
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def _data_path(self, mp_id: int, fid: str) -> str | None:
        mp = self.mountpaths.by_id.get(mp_id)
        return mp.data_path(fid) if mp is not None else None

    def _reap_leftovers(self) -> None:
        """At close: what the reaper had not reached yet is removed now."""
        self._doomed.close()
        while True:
            try:
                self._unlink_now(self._doomed_recv.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return

    # config -----------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The config as shown to users: S3 secret keys are masked."""
        return _mask_secrets(self.config.snapshot())

    async def set_config(self, updates: dict[str, Any]) -> dict[str, Any]:
        """New buckets inherit the mirror settings, so they must fit this node's mountpaths too."""
        return _mask_secrets(self.config.update(updates, check=self.check_mirror))

    # buckets ----------------------------------------------------------------------------------
    def bucket_props(self, name: str) -> dict[str, Any]:
        """Props of an existing bucket (the live dict: do not mutate)."""
        props = self.bmd.get(name)
        if props is None:
            raise BucketNotFound(f"bucket \"ais://{name}\" does not exist")
        return props

    async def create_bucket(self, name: str, props: dict[str, Any] | None = None) -> dict[str, Any]:
        names.check_bucket_name(name)
        if self.bmd.get(name) is not None:
            raise BucketAlreadyExists(f"bucket \"ais://{name}\" already exists")
        new = bprops.apply(bprops.defaults(self.config.doc), props or {})
        self.check_mirror(new)
        return self.bmd.add(name, new)

    async def head_bucket(self, name: str) -> dict[str, Any]:
        return dict(self.bucket_props(name))

    async def list_buckets(self) -> list[dict[str, Any]]:
        return [{"name": n, "provider": p["provider"], "created": p["created"], "bid": p["bid"]}
                for n, p in sorted(self.bmd.buckets.items())]

    async def bucket_summary(self, name: str) -> dict[str, Any]:
        props = self.bucket_props(name)
        count, size = self.index.summary(props["bid"])
        return {"name": name, "provider": props["provider"], "objects": count, "size": size}

    async def summarize_bucket(self, name: str, prefix: str = "") -> Job:
        """AIStore's summary-bck, a job (its clients start it, then poll): how many objects the bucket holds
        under `prefix`, and their total, smallest and largest sizes, read from the index in batches."""
        bid = self.bucket_props(name)["bid"]

        async def work(job: Job) -> None:
            count = total = 0
            low, high = -1, 0
            for n, (_, size) in enumerate(self.index.iter_prefix(bid, prefix, columns="key, size"), 1):
                count, total, high = n, total + size, max(high, size)
                low = size if low < 0 else min(low, size)
                if n % 4096 == 0:
                    await trio.lowlevel.checkpoint()
            job.objs, job.bytes = count, total
            job.result = {"objects": count, "size": total, "min": max(low, 0), "max": high}

        return self.jobs.start(Job(kind="summary-bck", bucket=name), work)

    async def set_bucket_props(self, name: str, updates: dict[str, Any]) -> dict[str, Any]:
        """A change of the number of mirror copies also starts make-n-copies over what the bucket holds."""
        return self._replace_props(name, bprops.apply(self.bucket_props(name), updates))

    async def reset_bucket_props(self, name: str) -> dict[str, Any]:
        """Back to the cluster's defaults, keeping the bucket's identity (bid, created)."""
        old = self.bucket_props(name)
        new = bprops.defaults(self.config.doc)
        new.update(created=old["created"], bid=old["bid"])
        return self._replace_props(name, new)

    def _replace_props(self, name: str, new: dict[str, Any]) -> dict[str, Any]:
        self.check_mirror(new)
        old = self.bucket_props(name)
        self.bmd.put(name, new)
        if copy_count(old) != copy_count(new):
            self._start_make_n_copies(name)
        return new

    async def destroy_bucket(self, name: str, *, force: bool = True) -> None:
        """Remove the bucket at once; its data files are deleted right after, off the request path."""
        props = self.bucket_props(name)
        if not force and self.index.has_prefix(props["bid"], ""):
            raise BucketNotEmpty(f"bucket \"ais://{name}\" is not empty")
        self.bmd.remove(name)
        files = self.index.drop_bucket(props["bid"])
        files += versions.drop_bucket(self, props["bid"]) + multipart.drop_bucket(self, props["bid"])
        self._atimes = {k: v for k, v in self._atimes.items() if k[0] != props["bid"]}
        self._unlink_files(files)

    async def rename_bucket(self, src: str, dst: str) -> Job:
        """move-bck: objects are keyed by bucket id, so a rename is one BMD update."""
        self.bucket_props(src)
        names.check_bucket_name(dst)
        if self.bmd.get(dst) is not None:
            raise BucketAlreadyExists(f"bucket \"ais://{dst}\" already exists")
        self.bmd.rename(src, dst)
        job = Job(kind="move-bck", bucket=src, dst_bucket=dst)
        return self.jobs.finished(job)

    async def copy_bucket(self, src: str, dst: str, *, prefix: str = "", dry_run: bool = False) -> Job:
        """copy-bck: copy every object (under `prefix`) into `dst`, creating it with src's props."""
        src_props = self.bucket_props(src)
        names.check_bucket_name(dst)
        if src == dst:
            raise BadRequest("source and destination buckets are the same")
        if self.bmd.get(dst) is None and not dry_run:
            props = {k: v for k, v in src_props.items() if k not in bprops.READONLY}
            await self.create_bucket(dst, props)
        job = Job(kind="copy-bck", bucket=src, dst_bucket=dst)

        async def work(job: Job) -> None:
            bid = self.bucket_props(src)["bid"]
            for row in self.index.iter_prefix(bid, prefix):  # batched: a fresh snapshot per batch
                if dry_run:
                    job.objs += 1
                    job.bytes += row[3]
                    continue
                try:
                    m = await self.copy_object(src, row[0], dst, row[0])
                    job.objs += 1
                    job.bytes += m.size
                except Exception as e:  # one object's failure is reported, the rest go on
                    job.error(f"{row[0]}: {e}")
                await trio.lowlevel.checkpoint()

        return self.jobs.start(job, work)

    # daemon -------------------------------------------------------------------------------------
    def capacity(self) -> list[dict[str, object]]:
        return [c.to_json() for c in self.mountpaths.capacities()]

    def mountpath_list(self) -> list[str]:
        return [str(mp.path) for mp in self.mountpaths.by_id.values()]

    def daemon_stats(self) -> dict[str, Any]:
        return {"uptime_ns": time.time_ns() - self.started_ns, "counters": self.stats.snapshot(),
                "capacity": self.capacity(), "running_jobs": len(self.jobs.list(running_only=True)),
                "buckets": len(self.bmd.buckets)}


def _mask_secrets(doc: dict[str, Any]) -> dict[str, Any]:
    keys = doc.get("s3", {}).get("keys")
    if keys:
        doc["s3"]["keys"] = {access: "****" for access in keys}
    return doc
