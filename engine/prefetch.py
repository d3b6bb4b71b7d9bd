"""Read-ahead across objects: a reader that goes through a directory's objects in key order (`tar c`,
`cp -r` or `rsync` out of a mount, a dataloader over sorted files, an S3 client copying a prefix) finds the
next objects' data already in the page cache, instead of waiting on the disk once per object.

An open of a small object reports its key when some of its data is on disk only (or, once its directory
is being read ahead, always). A worker thread keeps, per directory (the key up to its last `/`), the
furthest key opened. When three opens in a row that had to wait for the disk each land at most WINDOW
keys after the one before, reading is going through the directory in order: the thread asks the kernel
(`posix_fadvise(WILLNEED)`) for the data of the objects in between and of the next DEPTH, and keeps DEPTH
requested ahead as the reads move on. Shuffled reads (a training job's random sampler) rarely make three
such steps in a row, and reads of cached data never start anything. The asking itself is done by a helper
process (`readahead_helper.py`, started at the first run), so its system calls never take the GIL from the
event loop.

Read-ahead within a large object: a mount's reader that goes through one object's data in order (`dd`,
`cp`, a dataloader streaming a shard) has the data LEAD bytes ahead of it read into the page cache, in
spans of STEP, by the same thread and helper (`Stream`). The kernel reads the data file's next window
only when the reader reaches its marker, and the mount's READ loop works on each window before it moves
on, so the disk sat idle between windows: cold 1 GiB `dd` through the mount went from 0.86-0.90 to
1.04 GB/s, alternating with the code before (docs/performance.md). A reader that jumps (random access into
a large shard) never starts it. S3 and REST GETs do not use it: sendfile keeps up with the kernel's own
readahead, and curl's cold GET measured no gain.
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import mmap
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .index import IndexReader
from .names import prefix_upper_bound
from .readahead_helper import ADVISE, READ, SpanReader, serve

log = logging.getLogger("aisfs.engine")

WINDOW = 32           # an open at most this many keys after the previous one is a step in order
STEPS = 3             # steps in a row that start reading ahead
MAX_TRUST = 8         # a run survives this many stray opens in a row
BEHIND = 4 * WINDOW   # keys before the furthest open that still belong to the run (readers in parallel lag)
DEPTH = 64            # objects kept requested ahead of the furthest open
MAX_OBJECT = 2 << 20  # larger objects are left to the kernel's own readahead within the file
MAX_DIRS = 256        # directories followed at once; the least recently opened is forgotten
QUEUE = 4096          # opens waiting for the worker thread; more are dropped
PAUSE = 0.005         # the thread takes queued opens at most this often: each wake-up costs the loop a GIL hand-off
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "readahead_helper.py")
HELPER_EXIT_SECONDS = 5.0  # the helper ends at EOF on its stdin; one still busy after this is killed

# Within a large object (`Stream`):
STREAM_FROM = 64 << 20   # smaller objects are left to the kernel's readahead within the file
RUN = 8 << 20            # bytes read in order before read-ahead starts
SLACK = 8 << 20          # a read this close to where the run has reached continues it (READs arrive out of order)
SKIP = 16 << 20          # requests start this far past the reader: the kernel's own readahead covers what is closer
LEAD = 24 << 20          # how far past the reader data is kept requested
STEP = 8 << 20           # one request to the helper

Hint = tuple[str, str, bool]  # (bucket id, key, whether some of its data was on disk only)
Span = tuple[bytes, str, int, int]  # (ADVISE or READ, data file path, offset, length): see readahead_helper.py


@dataclass(slots=True)
class _Dir:
    upper: str | None        # bound of the directory's key range
    last: str                # the previous open outside the run: the next step is measured from it
    origin: str = ""         # where the current steps began
    steps: int = 0           # cold opens in a row, each at most WINDOW keys after the one before
    anchor: str = ""         # the furthest open inside the run
    frontier: str = ""       # the last key requested ahead ("": no run)
    exhausted: bool = False  # requested up to the directory's end
    trust: int = 0           # opens inside the run raise it, opens outside lower it; at 0 the run ends
    ahead: collections.deque[str] = field(default_factory=collections.deque)  # requested, beyond the anchor
    behind: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=BEHIND))
    # requested and now at or before the anchor: readers lagging behind the furthest one still open these

    def in_run(self, key: str) -> bool:
        return bool(self.frontier) and self.behind[0] <= key <= self.frontier


class Prefetcher:
    """The event loop only appends hints to a deque (no trio thread hop per open); one worker thread, run
    by `serve` until `stop`, wakes at most every PAUSE to take them, and owns all the state."""

    def __init__(self, index: IndexReader, data_path: Callable[[int, str], str | None]) -> None:
        self._index = index
        self._data_path = data_path
        self._pending: collections.deque[Hint] = collections.deque()
        self._spans: collections.deque[Span] = collections.deque()
        self._wake = threading.Event()
        self._stopped = False
        self._dirs: collections.OrderedDict[tuple[str, str], _Dir] = collections.OrderedDict()
        self._stat = _CacheStat()  # cachestat's answer, reused: only the event loop calls `opened`
        self._cachestat_args = (ctypes.byref(_CacheRange(0, 0)), ctypes.byref(self._stat), 0)
        self._helper: subprocess.Popen[bytes] | None = None  # started by the thread at the first run
        self._helper_failed = False  # could not start or died: the thread asks the kernel itself
        self._span_reader: SpanReader | None = None  # the thread's, without a helper

    def opened(self, bid: str, key: str, fd: int, size: int, *, cached: bool = False) -> None:
        """From the event loop: never blocks, and drops the hint when the thread is behind. Opens of cached
        data matter only inside a run, so elsewhere (a hot object read over and over) they wake nothing.
        `cached`: the caller knows the data is in the page cache, no need to look."""
        if not 0 < size <= MAX_OBJECT or len(self._pending) >= QUEUE:
            return
        cold = not cached and not self._cached(fd, size)
        d = self._dirs.get((bid, key[: key.rfind("/") + 1]))  # the thread's, read only (atomic under the GIL)
        if cold or (d is not None and d.frontier):
            self._pending.append((bid, key, cold))
            if not self._wake.is_set():  # else the thread has yet to clear it, and drains after that
                self._wake.set()

    def stream(self, path: str, size: int) -> "Stream | None":
        """A tracker for one reader of the data file at `path`; None for objects too small to need one."""
        return Stream(self, path, size) if size >= STREAM_FROM else None

    def read_ahead(self, path: str, offset: int, length: int) -> None:
        """From the event loop, never blocking: have `length` bytes of `path` from `offset` read ahead."""
        if len(self._spans) < QUEUE:
            self._spans.append((READ, path, offset, length))
            if not self._wake.is_set():
                self._wake.set()

    def _cached(self, fd: int, size: int) -> bool:
        """Every page of the file is in the page cache. cachestat(2) looks without reading: a read, even
        preadv2(RWF_NOWAIT), starts the kernel's readahead and may find the data it just fetched. Without
        cachestat (Linux before 6.5) everything counts as cached, which leaves read-ahead across objects off."""
        if _syscall(_SYS_CACHESTAT, fd, *self._cachestat_args) != 0:
            return True
        return self._stat.nr_cache * mmap.PAGESIZE >= size

    def serve(self) -> None:
        """The worker thread's body: follow opens until `stop`. A failure drops read-ahead, never the engine."""
        try:
            while not self._stopped:
                self._wake.wait()
                self._wake.clear()
                try:
                    while self._pending and not self._stopped:  # appends and pops are atomic: none lost or taken twice
                        self._opened(*self._pending.popleft())
                    spans = [self._spans.popleft() for _ in range(len(self._spans))]
                    if spans and not self._stopped:
                        self._ask(spans)
                except Exception:
                    log.exception("read-ahead failed; following opens afresh")
                    self._dirs.clear()
                time.sleep(PAUSE)
        finally:
            self._end_helper()
            if self._span_reader is not None:
                self._span_reader.close()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def close(self) -> None:
        self._index.close()

    def _opened(self, bid: str, key: str, cold: bool) -> None:
        prefix = key[: key.rfind("/") + 1]
        d = self._dirs.get((bid, prefix))
        if d is None:
            self._dirs[(bid, prefix)] = _Dir(prefix_upper_bound(prefix) if prefix else None, key)
            if len(self._dirs) > MAX_DIRS:
                self._dirs.popitem(last=False)
            return
        self._dirs.move_to_end((bid, prefix))
        if d.in_run(key):
            d.trust = min(d.trust + 1, MAX_TRUST)
            if key > d.anchor:
                d.anchor = key
                while d.ahead and d.ahead[0] <= key:
                    d.behind.append(d.ahead.popleft())
            if not d.exhausted and len(d.ahead) < DEPTH // 2:
                self._extend(bid, prefix, d)
            return
        if d.frontier:
            d.trust -= 1
            if d.trust <= 0:  # most opens fall elsewhere: nobody reads this run in order any more
                d.frontier = ""
                d.ahead.clear()
                d.behind.clear()
        start, d.last = d.last, key
        if not (cold and key > start and self._index.count_between(bid, start, key, limit=WINDOW + 1) <= WINDOW):
            d.steps = 0
            return
        if d.steps == 0:
            d.origin = start
        d.steps += 1
        if d.steps >= STEPS:  # reading in order (a run, replacing any earlier one): what lies between, then ahead
            between = self._index.files_after(bid, d.origin, upto=key, limit=STEPS * WINDOW)
            d.ahead.clear()
            d.behind.clear()
            d.behind.append(d.origin)
            d.behind.extend(self._request(prefix, [r for r in between if r[0] != key]))
            d.behind.append(key)
            d.anchor = d.frontier = key
            d.exhausted, d.steps, d.trust = False, 0, STEPS
            self._extend(bid, prefix, d)

    def _extend(self, bid: str, prefix: str, d: _Dir) -> None:
        rows = self._index.files_after(bid, d.frontier, upto=d.upper, limit=DEPTH, inclusive_upto=False)
        d.exhausted = len(rows) < DEPTH
        if rows:
            d.frontier = rows[-1][0]
            d.ahead.extend(self._request(prefix, rows))

    def _request(self, prefix: str, rows: list[tuple[str, int, str, int]]) -> list[str]:
        """Start reading the data of these objects (this directory's own, not its subdirectories')."""
        done, files = [], []
        for key, mp, fid, size in rows:
            if "/" in key[len(prefix):] or not 0 < size <= MAX_OBJECT:
                continue
            path = self._data_path(mp, fid)
            if path is None:
                continue
            files.append((ADVISE, path, 0, size))
            done.append(key)
        if files:
            self._ask(files)
        return done

    def _ask(self, spans: list[Span]) -> None:
        """Through the helper process; from this thread when there is none."""
        if self._to_helper(spans):
            return
        if self._span_reader is None:
            self._span_reader = SpanReader()
        for mode, path, offset, size in spans:
            serve(self._span_reader, mode, path, offset, size)
        self._span_reader.let_go()

    def _to_helper(self, spans: list[Span]) -> bool:
        """Hand the spans to the helper process in one write; False when there is none to hand them to."""
        if self._helper is None and not self._helper_failed:
            self._helper = _start_helper()
            self._helper_failed = self._helper is None
        if self._helper is None or self._helper.stdin is None:
            return False
        data = b"".join(b"%s %d %d %s\0" % (mode, offset, size, os.fsencode(path))
                        for mode, path, offset, size in spans)
        fd = self._helper.stdin.fileno()
        try:
            while data and not self._stopped:
                try:
                    data = data[os.write(fd, data):]
                except BlockingIOError:  # the helper is behind (a slow disk): wait, but never past `stop`
                    select.select([], [fd], [], 0.1)
        except OSError as e:  # it died (BrokenPipeError): read ahead from this thread from now on
            log.warning("read-ahead helper process is gone (%s); reading ahead from the engine itself", e)
            self._end_helper()
            self._helper_failed = True
            return False
        return True

    def _end_helper(self) -> None:
        helper, self._helper = self._helper, None
        if helper is None:
            return
        with contextlib.suppress(OSError):
            if helper.stdin is not None:
                helper.stdin.close()  # EOF: it finishes what it read and exits
        try:
            helper.wait(HELPER_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()


class Stream:
    """One reader of one large object: notes what it reads (`reading`) and keeps the data LEAD ahead of a
    run of reads in order requested. State of the event loop only."""

    __slots__ = ("_prefetcher", "_path", "_size", "_start", "_reached", "_frontier")

    def __init__(self, prefetcher: Prefetcher, path: str, size: int) -> None:
        self._prefetcher, self._path, self._size = prefetcher, path, size
        self._start = self._reached = 0  # the current run: where it began, how far it has read
        self._frontier = 0               # requested up to here (0: nothing yet in this run)

    def reading(self, offset: int, length: int) -> None:
        """The reader is about to read `length` bytes at `offset`."""
        end = offset + length
        if not self._reached - SLACK <= offset <= self._reached + SLACK:  # a jump: a new run, maybe
            self._start, self._reached, self._frontier = offset, end, 0
            return
        self._reached = max(self._reached, end)
        if self._reached - self._start < RUN:
            return
        stop = min(self._size, self._reached + LEAD)
        self._frontier = max(self._frontier, self._reached + SKIP)
        while self._frontier < stop:
            n = min(STEP, stop - self._frontier)
            self._prefetcher.read_ahead(self._path, self._frontier, n)
            self._frontier += n


def _start_helper() -> subprocess.Popen[bytes] | None:
    """The helper process, or None (logged) when it cannot start."""
    if not sys.executable:  # an interpreter embedded in another program: nothing to start it with
        return None
    try:
        helper = subprocess.Popen([sys.executable, "-I", HELPER], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  start_new_session=True)  # no terminal signals: it ends when its stdin does
    except OSError as e:
        log.warning("cannot start the read-ahead helper process (%s); reading ahead from the engine itself", e)
        return None
    assert helper.stdin is not None
    os.set_blocking(helper.stdin.fileno(), False)
    return helper


class _CacheRange(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _CacheStat(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted",
                                               "nr_recently_evicted")]


_SYS_CACHESTAT = 451  # Linux 6.5+, the same number on every architecture
_syscall = ctypes.CDLL(None, use_errno=True).syscall
