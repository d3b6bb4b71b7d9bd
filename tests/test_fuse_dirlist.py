"""Directory listings a page at a time: the namespace rules hold across page boundaries."""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
import trio

from aisfs.fuse.backend import EmbeddedBackend
from aisfs.fuse.dirlist import DirPager
from engine.core import Engine
from fuse_support import Mount, cleanup, with_engine

KEYS = ["x", "x y", "x-1", "x.txt", "x/in", "x0", "a", "a/", "b", "b!", "b#/deep/f", "b/", "c", "c-", "c--",
        "c/d", "d//hidden", "e/./f", "long" + "L" * 300, "z", "z/", "z-last"]
EXPECTED = {("a", "dir"), ("b", "dir"), ("b!", "file"), ("b#", "dir"), ("c", "dir"), ("c-", "file"),
            ("c--", "file"), ("d", "dir"), ("e", "dir"), ("x", "dir"), ("x y", "file"), ("x-1", "file"),
            ("x.txt", "file"), ("x0", "file"), ("z", "dir"), ("z-last", "file")}


@pytest.mark.parametrize("page", [1, 2, 3, 5, 1000])
def test_pager_applies_rules_across_pages(tmp_path: Path, page: int) -> None:
    async def main() -> list[tuple[str, str]]:
        async with Engine.open(tmp_path / "data") as engine:
            await engine.create_bucket("b")
            for k in KEYS:
                await engine.put_object("b", k, b"")
            pager = DirPager(EmbeddedBackend(engine), "b", "", page_size=page)
            out: list[tuple[str, str]] = []
            while batch := await pager.next_batch():
                out += [(e.name, e.kind) for e in batch]
            return out

    got = trio.run(main)
    assert len(got) == len(set(got))
    assert set(got) == EXPECTED


def test_big_directory_through_the_mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More entries than a page and than one kernel readdir buffer: every name once, rules applied."""
    names = [f"f{i:04d}" + "-" * random.randint(0, 3) for i in range(700)]
    names = sorted(set(names))

    async def seed(engine: Any) -> None:
        await engine.create_bucket("big")
        await engine.set_config({"write_policy.fsync": False})
        for n in names:
            await engine.put_object("big", f"d/{n}", b"x")
        await engine.put_object("big", "d/f0001", b"shadowed")  # also a directory below:
        await engine.put_object("big", "d/f0001/inner", b"i")

    with_engine(tmp_path / "data", seed)
    monkeypatch.setenv("AISFS_FUSE_LIST_PAGE", "37")
    m = Mount(tmp_path, "big")
    try:
        m.start()
        listed = os.listdir(m.path("d"))
        assert len(listed) == len(set(listed))
        want = set(names) | {"f0001"}
        assert set(listed) == want
        assert m.path("d", "f0001").is_dir()
        with os.scandir(m.path("d")) as it:
            kinds = {e.name: e.is_dir() for e in it}
        assert kinds["f0001"] and not kinds[names[-1]]
        m.path("d", "zz-new").write_bytes(b"n")
        assert "zz-new" in os.listdir(m.path("d"))
        with open(m.path("d", "being-written"), "wb") as f:  # not uploaded yet, listed all the same
            f.write(b"w")
            assert os.listdir(m.path("d")).count("being-written") == 1
        assert os.listdir(m.path("d")).count("being-written") == 1
    finally:
        m.stop()
        cleanup(tmp_path)
