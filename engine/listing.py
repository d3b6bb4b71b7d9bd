"""Listing: S3 order (UTF-8 bytes), prefix, start-after, continuation token, page size, and
non-recursive mode that folds keys at a delimiter into virtual directories."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .bprops import ACCESS_GET, check_access
from .errors import BadRequest
from .index import COLUMNS, LIST_COLUMNS, row_to_meta
from .meta import FULL_ROW, LIST_ROW, ListEntry, ObjectMeta
from .names import prefix_upper_bound

if TYPE_CHECKING:
    from .core import Engine

MAX_PAGE = 10_000
# list_rows' fields: the index column each one reads
ROW_FIELDS = {"size": "size", "checksum": "cksum", "version": "version", "atime": "atime", "mtime": "mtime",
              "etag": "etag"}


@dataclass(slots=True)
class ListPage:
    entries: list[ListEntry]
    token: str          # "" when this is the last page; otherwise the last name returned


class ListingOps:
    async def has_prefix(self: "Engine", bucket: str, prefix: str) -> bool:
        """Whether any name starts with `prefix`: one index probe, for a mount's every lookup."""
        props = self.bucket_props(bucket)
        check_access(props, ACCESS_GET, bucket)
        return self.index.has_prefix(props["bid"], prefix)

    async def list_objects(self: "Engine", bucket: str, *, prefix: str = "", start_after: str = "", token: str = "",
                           page_size: int = 1000, delimiter: str = "", names_only: bool = False,
                           full: bool = True) -> ListPage:
        """One page of the bucket's objects, in S3 order.

        With a `delimiter`, keys with the delimiter after the prefix fold into one directory entry
        (name ending with the delimiter), which counts toward the page like an object. `full=False`
        reads only the columns a listing shows (name, size, checksum, version, times, ETag) and
        looks up the rest per entry only if `entry.meta` is read.
        """
        bid = self._listable(bucket, page_size)
        begin = _page_start(prefix, start_after, token, delimiter)
        if begin is None:
            return ListPage([], "")
        start, inclusive, upper = begin
        index, atimes = self.index, self._atimes
        if names_only:
            columns, layout = "key", FULL_ROW
        elif full:
            columns, layout = COLUMNS, FULL_ROW
        else:
            columns, layout = LIST_COLUMNS, LIST_ROW

        def decode(row: tuple) -> ObjectMeta | None:
            whole = row if full else index.get(bid, row[0])
            return row_to_meta(bucket, whole) if whole is not None else None
        entries: list[ListEntry] = []
        while len(entries) < page_size:
            want = page_size - len(entries)
            rows = index.scan(bid, start, inclusive=inclusive, upper=upper, limit=want, columns=columns)
            if not rows:
                return ListPage(entries, "")
            folded = False
            for row in rows:
                key = row[0]
                if delimiter:
                    cut = key.find(delimiter, len(prefix))
                    if cut >= 0:
                        d = key[: cut + len(delimiter)]
                        entries.append(ListEntry(d, is_dir=True))
                        nxt = prefix_upper_bound(d)
                        if nxt is None:
                            return ListPage(entries, "")
                        start, inclusive, folded = nxt, True, True
                        break
                if names_only:
                    entries.append(ListEntry(key))
                else:  # atimes of reads not yet written back count too
                    entries.append(ListEntry(key, row=row, decode=decode, atime_ns=atimes.get((bid, key), 0),
                                             layout=layout))
            if not folded:
                if len(rows) < want:
                    return ListPage(entries, "")
                start, inclusive = rows[-1][0], False
        self.stats.add("lst.n")
        return ListPage(entries, entries[-1].name if entries else "")

    async def list_rows(self: "Engine", bucket: str, *, prefix: str = "", start_after: str = "", token: str = "",
                        page_size: int = 1000, fields: tuple[str, ...] = ()) -> tuple[list[tuple], str]:
        """One page of a recursive listing as bare index rows, (key, *fields) with fields from ROW_FIELDS,
        and the next token ("" at the end). For a face that encodes a page straight from rows: a million
        entries without a million ListEntry objects, and only the columns asked for (the REST JSON page
        is the hottest listing there is). Atimes of reads not yet written back count, as in list_objects."""
        bid = self._listable(bucket, page_size)
        begin = _page_start(prefix, start_after, token, "")
        if begin is None:
            return [], ""
        start, inclusive, upper = begin
        columns = ", ".join(["key", *(ROW_FIELDS[f] for f in fields)])
        rows = self.index.scan(bid, start, inclusive=inclusive, upper=upper, limit=page_size, columns=columns)
        atimes = self._atimes
        if "atime" in fields and atimes:
            at = 1 + fields.index("atime")
            for i, row in enumerate(rows):
                t = atimes.get((bid, row[0]))
                if t is not None and t > row[at]:
                    rows[i] = (*row[:at], t, *row[at + 1:])
        self.stats.add("lst.n")
        return rows, rows[-1][0] if len(rows) == page_size else ""

    def _listable(self: "Engine", bucket: str, page_size: int) -> str:
        """The bucket's id, once it may be listed with this page size."""
        props = self.bucket_props(bucket)
        check_access(props, ACCESS_GET, bucket)
        if page_size <= 0 or page_size > MAX_PAGE:
            raise BadRequest(f"page size must be between 1 and {MAX_PAGE}")
        return props["bid"]


def _page_start(prefix: str, start_after: str, token: str, delimiter: str) -> tuple[str, bool, str | None] | None:
    """Where a page's scan begins (key, whether it is included) and the prefix's upper bound; None when
    nothing can follow."""
    upper = prefix_upper_bound(prefix) if prefix else None
    start, inclusive = prefix, True
    marker = max(start_after, token)
    if marker and marker >= prefix:
        start, inclusive = marker, False
        # A token naming a folded directory resumes after everything under it.
        if delimiter and token and token == marker and delimiter in token[len(prefix):]:
            skip = prefix_upper_bound(token)
            if skip is None:
                return None
            start, inclusive = skip, True
    if upper is not None and start >= upper:
        return None
    return start, inclusive, upper
