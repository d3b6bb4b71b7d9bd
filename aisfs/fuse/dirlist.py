"""A directory's entries a page at a time, with the namespace rules applied (docs/semantics.md).

Memory stays at one page however large the directory: `ls` of a million-object prefix starts at once.
The listing comes in S3 order with `/` folding, where a file `x` is followed by names `x<c>...` with
c < '/' and only then by the directory `x/` that hides it; a file is therefore held back until a name
sorts after `x/` (or the listing ends).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass

from engine.meta import ListEntry, ObjectMeta

from .attrs import SYMLINK
from .backend import Backend
from .inodes import representable

PAGE = int(os.environ.get("AISFS_FUSE_LIST_PAGE", "5000"))  # tuning knob; tests use tiny pages


@dataclass(slots=True)
class DirEntry:
    name: str
    kind: str                      # "dir" | "file" | "link"
    meta: ObjectMeta | None = None


class DirPager:
    """Yields batches of DirEntry; an empty batch means the end."""

    def __init__(self, backend: Backend, bucket: str, prefix: str, page_size: int = PAGE) -> None:
        self.b = backend
        self.bucket, self.prefix = bucket, prefix
        self.page_size = page_size
        self._token = ""
        self._last_page = False
        self._ended = False
        self._held: OrderedDict[str, DirEntry] = OrderedDict()  # files a later `name/` could still hide

    async def next_batch(self) -> list[DirEntry]:
        out: list[DirEntry] = []
        while not out and not self._ended:
            if self._last_page:
                out.extend(self._held.values())
                self._held.clear()
                self._ended = True
                break
            entries, self._token = await self.b.list_page(self.bucket, self.prefix, self._token, self.page_size)
            self._last_page = not self._token
            for e in entries:
                self._feed(e, out)
        return out

    def _feed(self, e: ListEntry, out: list[DirEntry]) -> None:
        rel = e.name[len(self.prefix):]
        while self._held:  # every later name sorts after `rel`: files before `rel`'s `name/` are final
            first = next(iter(self._held))
            if rel <= first + "/":
                break
            out.append(self._held.pop(first))
        if e.is_dir:
            name = rel[:-1]
            self._held.pop(name, None)  # the directory wins
            if representable(name):
                out.append(DirEntry(name, "dir"))
        elif rel and representable(rel):  # rel == "": this directory's own marker
            kind = "link" if e.meta is not None and e.meta.custom.get(SYMLINK) else "file"
            self._held[rel] = DirEntry(rel, kind, e.meta)
