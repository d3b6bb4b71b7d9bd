"""Store cleanup (AIStore's `cleanup-store` job): remove data files no index row refers to.

A crash between renaming a finished file into `%ob` and committing its row (or in the middle of
destroying a bucket) leaves such files: never listed, but holding space. Every table with `mp`
and `fid` columns refers to data files (objects, non-current versions, multipart parts), so the
check needs no list of owners; mirror copies count where the `copies` table places them.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable

import trio

from .jobs import Job
from .mountpath import OBJ_DIR

if TYPE_CHECKING:
    from .core import Engine


def _walk(root: str, referenced: Callable[[str], bool], older_than_ns: int) -> list[str]:
    """Paths of the data files under a mountpath's `%ob` that no row refers to and that were put there
    before `older_than_ns` (only those are stat'ed: the scan stays a directory walk)."""
    out = []
    for top in os.scandir(root):
        if not top.is_dir(follow_symlinks=False):
            continue
        for sub in os.scandir(top.path):
            if sub.is_dir(follow_symlinks=False):
                out.extend(e.path for e in os.scandir(sub.path) if e.is_file(follow_symlinks=False)
                           and not referenced(e.name) and e.stat(follow_symlinks=False).st_ctime_ns < older_than_ns)
    return out


async def clean_orphans(engine: "Engine", job: Job, since: dict[int, int]) -> None:
    """Only files older than this run (`since`: each mountpath's clock when the engine opened) can be
    a crash's leftovers; younger ones may be placed and not yet indexed (a write between its fsync
    and its commit). Two snapshots of referenced files around the walk, taken on the engine's thread,
    so a file committed while the walk runs is never taken for an orphan. A file is referenced on its
    own mountpath only: a mirror copy no row names is an orphan even though its original is not."""
    before = engine.index.referenced_files()
    candidates: list[tuple[int, str]] = []
    for mp in engine.mountpaths.by_id.values():
        paths = await trio.to_thread.run_sync(_walk, str(mp.path / OBJ_DIR),
                                              lambda fid, mp_id=mp.id: (mp_id, fid) in before, since[mp.id])
        candidates += [(mp.id, p) for p in paths]
    after = engine.index.referenced_files()
    engine.index.drop_stray_copies({fid for _, fid in after})
    orphans = [p for mp, p in candidates if (mp, os.path.basename(p)) not in after]

    def remove() -> None:
        for p in orphans:
            try:
                job.bytes += os.stat(p).st_size
                os.unlink(p)
                job.objs += 1
            except FileNotFoundError:
                pass

    await trio.to_thread.run_sync(remove)
