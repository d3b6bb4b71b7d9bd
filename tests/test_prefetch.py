"""Read-ahead across objects: reading a directory's files in order (as `cat`, `tar c`, `cp -r` and sorted
dataloaders do) finds the next files' data already in the page cache; shuffled reads leave the rest alone.

The page-cache state of each object's data file is what a user would see as "no wait on the disk": it is
checked with mincore(2) on a mapping of the file (a read, even preadv2(RWF_NOWAIT), would itself start the
kernel's readahead), and emptied with posix_fadvise(DONTNEED) (no root needed)."""
from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import re
import signal
import time
from pathlib import Path

import httpx

from fuse_support import serving_mount
from restkit import bucket_props, data_file, ourl
from strace_support import Strace
from support import evict

N = 120
BODY = os.urandom(64 << 10)


LIBC = ctypes.CDLL(None, use_errno=True)


def cached(path: Path, every: bool = True) -> bool:
    """Every page (or any page) of the file is in the page cache, found without reading it."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as mm:
            pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
            vec = (ctypes.c_ubyte * pages)()
            addr = ctypes.addressof(ctypes.c_char.from_buffer(mm))
            if LIBC.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(size), vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore")
            del addr
            return (all if every else any)(v & 1 for v in vec)


def stored_cold(c: httpx.Client, data_dir: Path, bucket: str, keys: list[str]) -> list[Path]:
    """PUT every key, then drop their data from the page cache; the data files, in key order."""
    for k in keys:
        assert c.put(ourl(bucket, k), content=BODY).status_code == 200
    bid = bucket_props(c, bucket)["bid"]
    files = [data_file(data_dir, bid, k) for k in keys]
    os.sync()
    for f in files:
        evict(f)
    left = [i for i, f in enumerate(files) if cached(f, every=False)]
    assert not left, f"posix_fadvise(DONTNEED) left data in the page cache: {left}"
    return files


def wait_cached(files: list[Path], timeout: float = 10.0) -> list[bool]:
    deadline = time.monotonic() + timeout
    while True:
        state = [cached(f) for f in files]
        if all(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def assert_read_ahead(files: list[Path]) -> None:
    """Nearly all of these files are in the page cache (waiting for them). Read-ahead is the kernel's best
    effort (posix_fadvise(2): WILLNEED reads less "depending on virtual memory load"), and once in a full
    suite run a few of 36 files were not there: a reader then waits on the disk for those few only."""
    state = wait_cached(files)
    missing = [f.name for f, ok in zip(files, state) if not ok]
    assert len(missing) <= len(files) // 10, f"not read ahead: {missing}"


def helpers_of(pid: int) -> list[int]:
    """The read-ahead helper processes a daemon started (its children running readahead_helper.py)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return [k for k in kids if b"readahead_helper.py" in Path(f"/proc/{k}/cmdline").read_bytes()]


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for a reaper that never comes in a container)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not running(pid)


def test_reading_a_directory_in_order_reads_the_next_files_ahead(tmp_path: Path) -> None:
    with serving_mount(tmp_path, "bkt") as (m, c):
        keys = [f"shards/f{i:04d}.bin" for i in range(N)]
        files = stored_cold(c, m.data_dir, "bkt", keys)
        for i in range(4):  # `cat` of the first four files, through the mount
            assert m.path("shards", f"f{i:04d}.bin").read_bytes() == BODY
        assert_read_ahead(files[4:40])
        assert m.proc is not None
        helpers = helpers_of(m.proc.pid)  # the kernel is asked from a process of its own (no GIL shared)
        assert len(helpers) == 1, helpers
        # bounded: nothing far beyond what the reader has reached
        assert not any(cached(f) for f in files[100:]), str([i for i, f in enumerate(files) if cached(f)])
        # and it follows the reader to the end of the directory
        for i in range(4, N - 20):
            assert m.path("shards", f"f{i:04d}.bin").read_bytes() == BODY
        assert_read_ahead(files[N - 20:])
    assert not running(helpers[0]), "the read-ahead helper outlived the unmounted daemon"


def test_the_read_ahead_helper_ends_when_the_daemon_is_killed(tmp_path: Path) -> None:
    helpers: list[int] = []
    try:
        with serving_mount(tmp_path, "bkt") as (m, c):
            keys = [f"d/f{i:04d}.bin" for i in range(40)]
            files = stored_cold(c, m.data_dir, "bkt", keys)
            for k in keys[:4]:
                assert c.get(ourl("bkt", k)).content == BODY
            assert_read_ahead(files[4:20])
            assert m.proc is not None
            helpers = helpers_of(m.proc.pid)
            assert len(helpers) == 1, helpers
            m.proc.kill()  # kill -9: no shutdown code runs; the helper sees its stdin close
            m.proc.wait(10)
            assert wait_gone(helpers[0]), "the read-ahead helper outlived a killed daemon"
    finally:
        for pid in helpers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_shuffled_reads_read_nothing_ahead(tmp_path: Path) -> None:
    with serving_mount(tmp_path, "bkt") as (m, c):
        keys = [f"train/s{i:04d}.bin" for i in range(N)]
        files = stored_cold(c, m.data_dir, "bkt", keys)
        # a sampler's order: no three reads in a row each a short step forward
        order = [90, 10, 100, 45, 5, 80, 30, 115, 60, 20, 70, 0]
        for i in order:  # REST GETs (the mount's reads take the same engine path)
            r = c.get(ourl("bkt", keys[i]))
            assert r.status_code == 200 and r.content == BODY
        time.sleep(0.5)  # room for read-ahead that should not happen
        unread = [f for i, f in enumerate(files) if i not in order]
        assert not any(cached(f) for f in unread)


def test_a_directory_read_in_order_over_s3_reads_ahead_too(tmp_path: Path) -> None:
    with serving_mount(tmp_path, "bkt") as (m, c):
        keys = [f"imgs/{i:05d}.jpg" for i in range(N)]
        files = stored_cold(c, m.data_dir, "bkt", keys)
        for k in keys[:4]:  # anonymous S3 GetObject on the same port
            r = c.get(f"/bkt/{k}")
            assert r.status_code == 200 and r.content == BODY
        assert_read_ahead(files[4:40])


MiB = 1 << 20
SENDFILE = re.compile(r"sendfile\(\d+</dev/null>, \d+<([^>]*)>, \[(\d+)\].*\) = (\d+)")


def read_ahead_spans(trace: Strace, path: Path) -> list[tuple[int, int]]:
    """(offset, end) of every span of `path` read into the page cache (by the read-ahead helper's sendfile
    to /dev/null) that strace has written out so far, in order."""
    found = [SENDFILE.search(line) for line in trace.out.read_text(errors="replace").splitlines()]
    return [(int(m[2]), int(m[2]) + int(m[3])) for m in found if m and m[1] == str(path)]


def test_a_large_file_read_in_order_is_read_ahead_of_the_reader(tmp_path: Path) -> None:
    """`dd` or `cp` of a large file out of the mount: the daemon asks for its data ahead of the reader,
    a bounded distance ahead, up to the end of the file and not past it; reads that jump around (records
    read at random from a shard) ask for nothing."""
    with serving_mount(tmp_path, "bkt") as (m, c):
        block = os.urandom(MiB)
        body = b"".join(bytes([i]) + block[1:] for i in range(96))  # 96 MiB, every MiB different
        assert c.put(ourl("bkt", "big.bin"), content=body).status_code == 200
        data = data_file(m.data_dir, bucket_props(c, "bkt")["bid"], "big.bin")
        os.sync()
        evict(data)
        assert m.proc is not None
        trace = Strace(m.proc.pid, tmp_path / "sendfile.txt", "sendfile")
        try:
            with open(m.path("big.bin"), "rb", buffering=0) as f:
                for i in range(24):  # the first quarter, in order
                    assert f.read(MiB) == body[i * MiB:(i + 1) * MiB]
                deadline = time.monotonic() + 10  # the helper's turn (it starts at the first read-ahead)
                while not read_ahead_spans(trace, data):
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                for at in (80, 66, 90, 72):  # jumps: a 2 MiB record here and there
                    f.seek(at * MiB + 1000)
                    assert f.read(2 * MiB) == body[at * MiB + 1000:(at + 2) * MiB + 1000]
                time.sleep(0.5)  # room for read-ahead that should not happen
                first = read_ahead_spans(trace, data)
                f.seek(24 * MiB)
                rest = f.read()
            assert rest == body[24 * MiB:]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(body) not in {b for _, b in read_ahead_spans(trace, data)}:
                time.sleep(0.05)
        finally:
            trace.stop()
        assert first, "nothing was read ahead of a reader going through the file in order"
        # ahead of the reader (which had read 24 MiB, and the kernel's readahead 4 more), and bounded
        assert all(16 * MiB <= a < b <= 64 * MiB for a, b in first), first
        spans = read_ahead_spans(trace, data)
        assert max(b for _, b in spans) == len(body), spans  # followed the reader to the end, not past it
