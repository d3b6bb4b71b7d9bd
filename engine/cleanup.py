"""Store cleanup (AIStore's `cleanup-store` job): remove data files no index row refers to.

A crash between renaming a finished file into `%ob` and committing its row (or in the middle of
destroying a bucket) leaves such files: never listed, but holding space. Every table with a
`fid` column refers to data files (objects, non-current versions, multipart parts), so the
check needs no list of owners.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import trio

from .jobs import Job
from .mountpath import OBJ_DIR

if TYPE_CHECKING:
    from .core import Engine


def _walk(root: str) -> list[str]:
    """Paths of every data file under a mountpath's `%ob`."""
    out = []
    for top in os.scandir(root):
        if not top.is_dir(follow_symlinks=False):
            continue
        for sub in os.scandir(top.path):
            if sub.is_dir(follow_symlinks=False):
                out.extend(e.path for e in os.scandir(sub.path) if e.is_file(follow_symlinks=False))
    return out


async def clean_orphans(engine: "Engine", job: Job) -> None:
    """Two snapshots of referenced ids around the walk, taken on the engine's thread, so a file
    committed while the walk runs is never taken for an orphan."""
    before = engine.index.referenced_fids()
    candidates: list[str] = []
    for mp in engine.mountpaths.by_id.values():
        paths = await trio.to_thread.run_sync(_walk, str(mp.path / OBJ_DIR))
        candidates += [p for p in paths if os.path.basename(p) not in before]
    if not candidates:
        return
    after = engine.index.referenced_fids()
    orphans = [p for p in candidates if os.path.basename(p) not in after]

    def remove() -> None:
        for p in orphans:
            try:
                job.bytes += os.stat(p).st_size
                os.unlink(p)
                job.objs += 1
            except FileNotFoundError:
                pass

    await trio.to_thread.run_sync(remove)
