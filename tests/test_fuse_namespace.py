"""Namespace rules (docs/semantics.md): implicit dirs, markers, the directory wins, unrepresentable keys hidden."""
from __future__ import annotations

import os
import stat
import subprocess
from typing import Any, Iterator

import pytest

from fuse_support import Mount, cleanup, with_engine

LONG = "L" * 300
SEED = {
    "x": b"shadowed file",
    "x/y": b"in dir x",
    "a//b": b"empty component",
    "/lead": b"leading slash",
    "dot/./f": b"dot component",
    "dot/../g": b"dotdot component",
    "dot/ok": b"fine",
    f"long/{LONG}": b"too long",
    "long/short": b"fine",
    "nul/a\0b": b"nul",
    "mark/": b"",
    "deep/er/est/file.txt": b"deep",
    "ünï/çødé": b"unicode",
    "sp ace/p%+q": b"odd chars",
}


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mount]:
    base = tmp_path_factory.mktemp("fusens")
    data = base / "data"

    async def seed(engine: Any) -> None:
        await engine.create_bucket("ns")
        for k, v in SEED.items():
            await engine.put_object("ns", k, v)

    with_engine(data, seed)
    mnt = Mount(base, "ns", "--uid", "1234", "--gid", "5678", "--file-mode", "0600", "--dir-mode", "0750")
    try:
        yield mnt.start()
    finally:
        mnt.stop()
        cleanup(base)


def test_directory_wins_and_hidden_keys(m: Mount) -> None:
    top = sorted(os.listdir(m.mnt))
    assert top == sorted(["x", "a", "dot", "long", "nul", "mark", "deep", "ünï", "sp ace"])
    assert m.path("x").is_dir() and m.path("x", "y").read_bytes() == b"in dir x"
    assert os.listdir(m.path("a")) == []
    assert os.listdir(m.path("dot")) == ["ok"]
    assert os.listdir(m.path("long")) == ["short"]
    assert os.listdir(m.path("nul")) == []
    assert os.listdir(m.path("mark")) == []
    assert m.path("deep", "er", "est", "file.txt").read_bytes() == b"deep"
    assert m.path("ünï", "çødé").read_bytes() == b"unicode"
    assert m.path("sp ace", "p%+q").read_bytes() == b"odd chars"


def test_foreign_objects_get_mount_defaults(m: Mount) -> None:
    st = os.stat(m.path("dot", "ok"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o600)
    st = os.stat(m.path("deep"))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750


def test_walk_tools(m: Mount) -> None:
    found = subprocess.run(["find", str(m.mnt), "-type", "f"], capture_output=True, text=True, check=True).stdout
    rel = sorted(os.path.relpath(p, m.mnt) for p in found.split("\n") if p)
    assert rel == sorted(["x/y", "dot/ok", "long/short", "deep/er/est/file.txt", "ünï/çødé", "sp ace/p%+q"])


def test_rmdir_uncovers_nothing_lost(m: Mount) -> None:
    """Hidden objects stay in the bucket: a dir of only hidden keys is not empty for rmdir."""
    with pytest.raises(OSError):
        os.rmdir(m.path("a"))
    assert m.path("a").is_dir()
