"""Files written through an embedded mount become objects without a second copy: the staged file is
hashed as it is written and becomes the data file. Whatever the write pattern, the object's stored
checksum must be the checksum of the bytes the user wrote, and nothing staged may outlive its file."""
from __future__ import annotations

import hashlib
import os
import re
import signal
import time
from pathlib import Path
from typing import Callable

import pytest
import trio
import xxhash

from engine.core import Engine
from fuse_support import Mount, cleanup, with_engine
from strace_support import Strace

MIB = 1 << 20
HASHES: dict[str, Callable[[bytes], str]] = {
    "xxhash": lambda b: xxhash.xxh3_64(b).hexdigest(),
    "md5": lambda b: hashlib.md5(b).hexdigest(),
}


def _writes(p: Path) -> bytes:
    """Every way a file's bytes can arrive out of order or change after an fsync; returns the content."""
    big = os.urandom(3 * MIB + 7)
    with open(p, "wb") as f:
        f.write(big)                      # sequential, in 1 MiB requests
        f.flush()
        os.fsync(f.fileno())              # committed: the staged file is now the object's data...
        f.write(b"after-fsync")           # ...so this goes to a copy
        f.seek(10)
        f.write(b"BACK")                  # behind the hashed prefix: hashed again at close
        f.seek(len(big) + 100)
        f.write(b"past-a-hole")           # a hole of zeros
    want = bytearray(big + b"after-fsync")
    want[10:14] = b"BACK"
    want += bytes(100 - len(b"after-fsync")) + b"past-a-hole"
    return bytes(want)


@pytest.mark.parametrize("ctype", ["xxhash", "md5"])
def test_stored_checksum_is_the_content_checksum(tmp_path: Path, ctype: str) -> None:
    with_engine(tmp_path / "data", lambda e: e.create_bucket("bkt", {"checksum": {"type": ctype,
                                                                                  "validate_warm_get": True}}))
    m = Mount(tmp_path, "bkt")
    try:
        m.start()
        h = HASHES[ctype]
        cases: dict[str, bytes] = {}

        cases["mixed"] = _writes(m.path("mixed"))

        seq = os.urandom(5 * MIB)
        m.path("seq").write_bytes(seq)
        cases["seq"] = seq

        with open(m.path("seq"), "r+b") as f:  # an existing object, changed in the middle
            f.seek(MIB)
            f.write(b"middle")
        cases["seq"] = seq[:MIB] + b"middle" + seq[MIB + 6:]

        with open(m.path("seq"), "ab") as f:  # appended to
            f.write(b"appended")
        cases["seq"] += b"appended"

        first = os.urandom(2 * MIB)
        with open(m.path("shrunk"), "wb") as f:
            f.write(first)
            f.truncate(1000)                    # below the hashed prefix
            f.seek(1000)
            f.write(b"regrown")
        cases["shrunk"] = first[:1000] + b"regrown"

        for name, want in cases.items():
            assert m.path(name).read_bytes() == want, name
            assert os.getxattr(m.path(name), "user.ais.checksum").decode() == f"{ctype}:{h(want)}", name
        m.stop()

        async def stored(engine):  # type: ignore[no-untyped-def]
            out = {}
            for name in cases:
                meta = await engine.head_object("bkt", name)
                out[name] = (str(meta.cksum), await engine.get_bytes("bkt", name))  # validate_warm_get is on
            return out

        got = with_engine(m.data_dir, stored)
        assert got == {name: (f"{ctype}:{h(want)}", want) for name, want in cases.items()}
    finally:
        m.stop()
        cleanup(tmp_path)


def _work_files(data_dir: Path, *, settle: float = 5.0) -> list[str]:
    """Staged files in the data dir, once the kernel's release (sent after close(2) returns) has landed."""
    deadline = time.monotonic() + settle
    while True:
        found = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("%wk/*"))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_staged_files_do_not_outlive_their_files(tmp_path: Path) -> None:
    """Closed, unlinked or abandoned by a killed daemon: no staged bytes stay behind, and a file that was
    never closed never becomes an object."""
    m = Mount(tmp_path, "bkt", "--create-bucket")
    try:
        m.start()
        m.path("kept").write_bytes(b"k" * MIB)
        with open(m.path("dropped"), "wb") as f:
            f.write(b"d" * MIB)
            os.unlink(m.path("dropped"))
        assert _work_files(m.data_dir) == []

        f = open(m.path("open-at-crash"), "wb")
        try:
            f.write(b"x" * (2 * MIB))
            f.flush()
            assert len(_work_files(m.data_dir, settle=0)) == 1  # the one staged file, on the object's mountpath
            assert m.proc is not None
            m.proc.send_signal(signal.SIGKILL)
            m.proc.wait(20)
        finally:
            try:
                f.close()
            except OSError:
                pass  # ENOTCONN: the daemon is gone
        m.restart()
        assert sorted(os.listdir(m.mnt)) == ["kept"]
        assert m.path("kept").read_bytes() == b"k" * MIB
        assert _work_files(m.data_dir) == []
    finally:
        m.stop()
        cleanup(tmp_path)


def test_files_written_on_two_mountpaths(tmp_path: Path) -> None:
    """With two mountpaths each file is staged where its key belongs and stays there as the object's data,
    even when it is renamed while still open; every object reads back whole and checksum-valid."""
    data_dir, mps = tmp_path / "data", [tmp_path / "mp1", tmp_path / "mp2"]

    async def setup() -> None:  # the data dir remembers its mountpaths from here on
        async with Engine.open(data_dir, mps) as engine:
            await engine.create_bucket("bkt", {"checksum": {"validate_warm_get": True}})

    trio.run(setup)
    m = Mount(tmp_path, "bkt")
    try:
        m.start()
        want = {f"f{i:02d}": os.urandom(300_000 + i) for i in range(24)}
        for name, data in want.items():
            m.path(name).write_bytes(data)
        with open(m.path("moving"), "wb") as f:
            f.write(b"m" * MIB)
            os.rename(m.path("moving"), m.path("moved"))
            f.write(b"n")
        want["moved"] = b"m" * MIB + b"n"
        m.stop()

        async def stored(engine):  # type: ignore[no-untyped-def]
            out, used = {}, set()
            for name in want:
                meta = await engine.head_object("bkt", name)
                used.add(meta.mp)
                out[name] = await engine.get_bytes("bkt", name)  # validate_warm_get is on
            return out, used

        got, used = with_engine(data_dir, stored)
        assert got == want
        assert len(used) == 2  # both mountpaths hold objects
        assert _work_files(data_dir) == [] and not list(tmp_path.glob("mp*/%wk/*"))
    finally:
        m.stop()
        cleanup(tmp_path)


SYNC_FILE_RANGE = re.compile(r"sync_file_range\(\d+<([^>]*)>, (\d+), (\d+), SYNC_FILE_RANGE_WRITE\) = 0")


def test_a_large_file_goes_to_disk_while_it_is_written(tmp_path: Path) -> None:
    """`cp` or `dd` of a large file into the mount: each 8 MiB written front to back is handed to the disk
    while the rest is still being written (so close waits only for the tail), from the staged file, and
    the file reads back whole."""
    m = Mount(tmp_path, "bkt", "--create-bucket")
    try:
        m.start()
        assert m.proc is not None
        trace = Strace(m.proc.pid, tmp_path / "writeback.txt", "sync_file_range")
        body = os.urandom(20 * MIB + 5)
        try:
            with open(m.path("big.bin"), "wb", buffering=0) as f:
                for at in range(0, len(body), MIB):
                    f.write(body[at:at + MIB])
                deadline = time.monotonic() + 10
                while True:   # before the close: the complete pieces, and not the unfinished tail
                    found = [SYNC_FILE_RANGE.search(line) for line in trace.out.read_text().splitlines()]
                    pieces = sorted((int(x[2]), int(x[3])) for x in found if x)
                    if len(pieces) >= 2 or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                assert pieces == [(0, 8 * MIB), (8 * MIB, 8 * MIB)], pieces
                assert all("/%wk/" in x[1] for x in found if x), "not the staged file"
        finally:
            trace.stop()
        assert m.path("big.bin").read_bytes() == body
    finally:
        m.stop()
        cleanup(tmp_path)
