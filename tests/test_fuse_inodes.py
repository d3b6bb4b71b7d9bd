"""Inode lifetimes and negative lookups: the mount keeps only what the kernel still references, and a name
found missing is remembered for the metadata TTL (docs/semantics.md, "Inodes" and "Consistency")."""
from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path

import pytest

from fuse_support import Mount, cleanup, serving_mount, with_engine

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def forget_everything() -> None:
    """Make the kernel evict unused dentries and inodes, so it sends FORGET for them (root may do this)."""
    os.sync()
    DROP_CACHES.write_text("2")


def seed(data_dir: Path, bucket: str, keys: dict[str, bytes]) -> None:
    async def put_all(eng) -> None:  # type: ignore[no-untyped-def]
        await eng.create_bucket(bucket)
        for k, v in keys.items():
            await eng.put_object(bucket, k, v)

    with_engine(data_dir, put_all)


def test_forgotten_entries_are_dropped_and_open_files_survive(tmp_path: Path) -> None:
    """After the kernel forgets a name, the mount lets go of it (a later lookup gets a new inode number);
    a file held open, and every name listed again, keep working."""
    keys = {f"d/f{i:04d}": f"body {i}".encode() for i in range(300)}
    seed(tmp_path / "data", "inodes", keys)
    m = Mount(tmp_path, "inodes", "--metadata-ttl", "0.2")
    try:
        m.start()
        held = open(m.path("d", "f0000"), "rb")
        try:
            before = {n: m.path("d", n).stat().st_ino for n in sorted(os.listdir(m.path("d")))}
            assert len(before) == 300 and len(set(before.values())) == 300
            time.sleep(0.3)  # past the TTL: nothing in the kernel still vouches for the entries
            forget_everything()
            after = {n: m.path("d", n).stat().st_ino for n in sorted(os.listdir(m.path("d")))}
            assert after.keys() == before.keys()
            renumbered = [n for n in after if after[n] != before[n]]
            assert len(renumbered) > 250, "forgotten entries should be dropped by the mount"
            assert not set(after.values()) & (set(before.values()) - {before["f0000"]}), "an inode number came back"
            assert held.read() == b"body 0"  # the open file kept its inode
            assert os.fstat(held.fileno()).st_ino == before["f0000"]
            for n in ("f0001", "f0150", "f0299"):
                assert m.path("d", n).read_bytes() == keys[f"d/{n}"]
        finally:
            held.close()
    finally:
        m.stop()
        cleanup(tmp_path)


def test_cached_listing_outlives_forgotten_entries(tmp_path: Path) -> None:
    """The ML preset serves a directory's listing from memory for its TTL; entries the kernel forgot in
    the meantime are handed out again and read correctly."""
    keys = {f"train/s{i:03d}": os.urandom(1000 + i) for i in range(100)}
    seed(tmp_path / "data", "ml", keys)
    m = Mount(tmp_path, "ml", "--preset", "ml")
    try:
        m.start()
        first = sorted(os.listdir(m.path("train")))
        forget_everything()
        assert sorted(os.listdir(m.path("train"))) == first  # from the cached listing
        forget_everything()
        for n in first:
            assert m.path("train", n).read_bytes() == keys[f"train/{n}"]
    finally:
        m.stop()
        cleanup(tmp_path)


def test_missing_name_is_remembered_for_the_ttl(tmp_path: Path) -> None:
    """A lookup that finds nothing is cached for the metadata TTL: an object PUT elsewhere appears once the
    TTL has passed; a file created through the mount appears at once."""
    with serving_mount(tmp_path, "neg", "--metadata-ttl", "2") as (m, c):
        with pytest.raises(FileNotFoundError):
            m.path("late").stat()
        assert c.put("/v1/objects/neg/late", content=b"from rest").status_code == 200
        t0 = time.monotonic()
        while not m.path("late").exists():
            assert time.monotonic() - t0 < 5, "object PUT over REST never appeared in the mount"
            time.sleep(0.1)
        assert m.path("late").read_bytes() == b"from rest"
        # created in the mount right after a failed lookup: no waiting
        with pytest.raises(OSError) as e:
            os.stat(m.path("mine"))
        assert e.value.errno == errno.ENOENT
        m.path("mine").write_bytes(b"here")
        assert m.path("mine").read_bytes() == b"here"
        assert c.get("/v1/objects/neg/mine").content == b"here"
        os.mkdir(m.path("newdir"))
        assert m.path("newdir").is_dir()


def test_directories_list_dot_and_dotdot(tmp_path: Path) -> None:
    """`ls -a` shows `.` and `..` with the directory's and its parent's inode numbers, in the root, a
    directory, and through readdir offsets across many pages."""
    keys = {f"top/sub/f{i:05d}": b"x" for i in range(3000)} | {"top/a": b"a"}
    seed(tmp_path / "data", "dots", keys)
    m = Mount(tmp_path, "dots")
    try:
        m.start()
        for d, parent in ((m.mnt, None), (m.path("top"), m.mnt), (m.path("top", "sub"), m.path("top"))):
            out = subprocess.run(["ls", "-f", "-i", str(d)], capture_output=True, text=True, check=True).stdout
            entries = {line.split()[1]: int(line.split()[0]) for line in out.splitlines()}
            assert entries["."] == d.stat().st_ino
            if parent is not None:
                assert entries[".."] == parent.stat().st_ino
        names = subprocess.run(["ls", "-f", str(m.path("top", "sub"))], capture_output=True, text=True,
                               check=True).stdout.split()
        assert len(names) == 3002 and names[:2] == [".", ".."] and len(set(names)) == 3002
        assert sorted(os.listdir(m.path("top"))) == ["a", "sub"]  # Python leaves the dots out, as everywhere
    finally:
        m.stop()
        cleanup(tmp_path)
