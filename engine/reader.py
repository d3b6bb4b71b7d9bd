"""The engine as a worker process sees it (`aisfs serve --workers N`): it reads objects, never writes.

One process owns a data dir and does every write. Worker processes share its listening socket and
serve object GET and HEAD themselves, since those are most of what a busy store answers and one Python
process tops out at one core; whatever else comes to a worker raises `OwnerOnly`, and the HTTP server
hands the connection to the owner. A worker reads what the owner commits: index rows through SQLite
(WAL: every read sees the last commit), bucket metadata and config reloaded when the owner's change
counter moves (generation.py). Its reads' atimes and counters go to the owner (see `report`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import jsonfile
from .bmd import BMD
from .config import ClusterConfig
from .core import DEFAULT_MOUNTPATH, MOUNTPATHS_FILE, Engine, raise_open_files_limit
from .errors import OwnerOnly
from .generation import MetaGeneration
from .index import ReadOnlyIndex
from .meta import ObjectMeta
from .mirror import UNREADABLE
from .mountpath import Mountpaths
from .objects import ObjectReader
from .openfiles import OpenFiles
from .stats import Stats


class _NoReadAhead:
    """Read-ahead across a directory's objects serves the mount, which talks to the owner; a worker has no
    thread to read ahead within an object either."""

    def opened(self, *_: object, **__: object) -> None:
        pass

    def stream(self, *_: object) -> None:
        return None


class ReaderEngine(Engine):
    """The owner's store, read-only, in another process. Built by hand: `Engine.__init__` locks the data
    dir, cleans work files and registers mountpaths, all of which are the owner's."""

    def __init__(self, data_dir: Path) -> None:  # noqa: super().__init__ is the owner's
        raise_open_files_limit()
        self.data_dir = data_dir.resolve()
        self.generation = MetaGeneration(self.data_dir, create=False)
        self._seen = self.generation.value()
        self.index = ReadOnlyIndex(self.data_dir / "index.db")
        self.config = ClusterConfig(self.data_dir, owner=False)
        self.bmd = BMD(self.data_dir)
        stored = jsonfile.load(self.data_dir / MOUNTPATHS_FILE) or {}
        paths = stored.get("mountpaths") or [str(self.data_dir / DEFAULT_MOUNTPATH)]
        self.mountpaths = Mountpaths([(self.index.mountpath_id(p), Path(p)) for p in paths])
        self.stats = Stats()
        self._atimes: dict[tuple[str, str], int] = {}
        self.prefetcher = _NoReadAhead()  # type: ignore[assignment]
        self.open_files = OpenFiles()

    def refresh(self) -> None:
        """Before each request: the owner's latest bucket metadata and config (read after the counter, so
        a change made while reading is seen at the next request)."""
        seen = self.generation.value()
        if seen != self._seen:
            self._seen = seen
            self.bmd.reload()
            self.config.reload()

    async def _open_data(self, meta: ObjectMeta, bid: str, validate: bool) -> ObjectReader:
        """A data file that cannot be read here (gone: the owner replaced or removed the object meanwhile;
        corrupted; on a detached mountpath) is the owner's to answer: it fails over to a mirror copy and
        repairs, or says what is wrong."""
        try:
            return await self._open_at(meta, meta.mp, bid, validate)
        except UNREADABLE:
            raise OwnerOnly("unreadable data file") from None

    def report(self) -> dict[str, Any]:
        """Atimes and counters of the reads since the last report, for the owner (`Engine.absorb`); also
        lets go of kept data files the owner has removed since."""
        atimes, self._atimes = self._atimes, {}
        self.open_files.sweep()
        return {"atimes": [[bid, key, t] for (bid, key), t in atimes.items()], "counters": self.stats.take()}

    def close(self) -> None:
        self.open_files.close()
        self.index.close()
        self.generation.close()


class WorkerView:
    """What the faces may use in a worker process: reads of objects and of their bucket's props. Any other
    attribute raises `OwnerOnly`, so whatever is not listed here (listings, jobs, writes, daemon info) is
    the owner's by default."""

    ALLOWED = ("config", "bucket_props", "head_object", "open_object", "_bucket", "_open_data", "index",
               "locations")

    def __init__(self, engine: ReaderEngine) -> None:
        for name in self.ALLOWED:
            setattr(self, name, getattr(engine, name))

    def __getattr__(self, name: str) -> Any:  # only for names not set above
        raise OwnerOnly(name)
