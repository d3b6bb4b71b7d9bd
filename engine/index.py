"""The metadata index: SQLite (WAL) mapping bucket id + key to the data file and its metadata.

Rows are clustered by (bid, key) so a listing is one range scan in S3 order (BINARY collation
compares UTF-8 bytes). Renaming a prefix, destroying a bucket and committing a PUT are each one
transaction. All calls run on the engine's trio thread; each is short.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .checksum import Cksum
from .durable import fsync_path
from .errors import DataDirFormat
from .meta import ObjectMeta
from .names import prefix_upper_bound

SCHEMA = """
CREATE TABLE IF NOT EXISTS mountpaths(id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS objects(
    bid TEXT NOT NULL,
    key TEXT NOT NULL,
    mp INTEGER NOT NULL,
    fid TEXT NOT NULL,
    size INTEGER NOT NULL,
    cksum_type TEXT NOT NULL,
    cksum TEXT NOT NULL,
    version TEXT NOT NULL,
    etag TEXT NOT NULL,
    atime INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    ctype TEXT NOT NULL,
    meta TEXT NOT NULL,
    vid TEXT NOT NULL DEFAULT 'null',
    PRIMARY KEY(bid, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS copies(fid TEXT NOT NULL, mp INTEGER NOT NULL, PRIMARY KEY(fid, mp)) WITHOUT ROWID;
"""
# The data directory's on-disk format, kept as the index's `user_version`. Bump it for any change an older
# aisfs would misread (format 1: multipart parts written in place into `s3_slabs`); older formats are
# upgraded when opened, newer ones refused.
FORMAT = 1
COPIES_TABLE = "copies"  # mirror copies: a data file id also present on another mountpath
DELETE_BATCH = 64  # keys a multi-object delete removes per transaction, between turns of the event loop

# Tables other engine modules keep in the same database (multipart uploads, S3 versions), created
# with the index so no transaction ever runs DDL midway (executescript would commit it).
EXTRA_SCHEMAS: list[str] = []


def register_schema(sql: str) -> None:
    if sql not in EXTRA_SCHEMAS:
        EXTRA_SCHEMAS.append(sql)


COLUMNS = "key, mp, fid, size, cksum_type, cksum, version, etag, atime, mtime, ctype, meta, vid"
Row = tuple
LIST_COLUMNS = "key, size, cksum, version, atime, mtime, etag"   # what listings need (meta.LIST_ROW)
CACHE_ROWS = 65536


def row_to_meta(bucket: str, row: Row) -> ObjectMeta:
    key, mp, fid, size, ctype_, cksum, version, etag, atime, mtime, ctype, meta, vid = row
    extra = json.loads(meta) if meta != "{}" else {}
    return ObjectMeta(bucket=bucket, key=key, size=size, cksum=Cksum(ctype_, cksum), version=version, etag=etag,
                      atime_ns=atime, mtime_ns=mtime, content_type=ctype, custom=extra.get("u", {}),
                      headers=extra.get("h", {}), vid=vid, mp=mp, fid=fid)


def meta_to_row(bid: str, m: ObjectMeta) -> tuple:
    extra: dict[str, dict[str, str]] = {}
    if m.custom:
        extra["u"] = m.custom
    if m.headers:
        extra["h"] = m.headers
    return (bid, m.key, m.mp, m.fid, m.size, m.cksum.type, m.cksum.value, m.version, m.etag, m.atime_ns,
            m.mtime_ns, m.content_type, json.dumps(extra, ensure_ascii=False) if extra else "{}", m.vid)


class Index:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed row survives kill -9
        self.db.execute("PRAGMA cache_size=-65536")
        try:
            self._upgrade()
        except BaseException:
            self.db.close()
            raise
        # Hot rows, so repeated GET/HEAD/stat of the same objects skip SQLite. Every write
        # below goes through this class and drops what it changes.
        self._cache: dict[tuple[str, str], Row | None] = {}

    def _upgrade(self) -> None:
        """Bring an older index up to FORMAT (so far: the tables each format added); touch nothing newer."""
        found = self.db.execute("PRAGMA user_version").fetchone()[0]
        if found > FORMAT:
            raise DataDirFormat(f"{self.path.parent} was written by a newer aisfs (data format {found}; this aisfs "
                                f"reads up to {FORMAT}): run that version, or a newer one, on it")
        self.db.executescript(SCHEMA + "".join(EXTRA_SCHEMAS))
        if found < FORMAT:
            self.db.execute(f"PRAGMA user_version={FORMAT}")

    def _forget(self, bid: str, key: str) -> None:
        self._cache.pop((bid, key), None)

    def close(self) -> None:
        self.db.close()

    def sync(self, *, data_only: bool = False) -> None:
        """Make every committed row durable (WAL + NORMAL only survives process crashes by itself).

        A full fsync also commits the filesystem's journal (ext4, XFS), and with it every rename made
        before; `data_only` (fdatasync) is for callers that synced those directories themselves."""
        with contextlib.suppress(FileNotFoundError):  # no WAL yet: nothing committed to sync
            fsync_path(f"{self.path}-wal", data_only=data_only)

    # mountpaths -----------------------------------------------------------------------------
    def mountpath_id(self, path: str) -> int:
        row = self.db.execute("SELECT id FROM mountpaths WHERE path=?", (path,)).fetchone()
        if row:
            return row[0]
        return self.db.execute("INSERT INTO mountpaths(path) VALUES(?)", (path,)).lastrowid or 0

    # single objects ------------------------------------------------------------------------
    def get(self, bid: str, key: str) -> Row | None:
        ck = (bid, key)
        row = self._cache.get(ck)
        if row is None:
            row = self.db.execute(f"SELECT {COLUMNS} FROM objects WHERE bid=? AND key=?", (bid, key)).fetchone()
            if row is not None:
                if len(self._cache) >= CACHE_ROWS:
                    self._cache.clear()
                self._cache[ck] = row
        return row

    def put(self, bid: str, meta: ObjectMeta,
            also: Callable[[Row | None], list[tuple[int, str]]] | None = None,
            copies: Iterable[int] = ()) -> list[tuple[int, str]]:
        """Insert or replace one object (and its data file's mirror `copies`) in one transaction;
        `also(replaced_row)` runs inside it (to keep the replaced row as an older version) and returns
        the data files to remove after the commit."""
        with self._txn():
            old = self.get(bid, meta.key)
            self._forget(bid, meta.key)
            self.db.execute("INSERT OR REPLACE INTO objects VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", meta_to_row(bid, meta))
            self.add_copies(meta.fid, copies)
            if also is not None:
                return also(old)
        return [(old[1], old[2])] if old is not None else []

    def delete(self, bid: str, key: str) -> Row | None:
        return self.delete_many(bid, [key])[0]

    def delete_many(self, bid: str, keys: Sequence[str]) -> list[Row | None]:
        """Remove these objects in one transaction (one commit for a whole S3 DeleteObjects batch); the
        removed rows, None where a key was not there."""
        removed: list[Row | None] = []
        with self._txn():
            for key in keys:  # one by one: a key named twice is removed once
                row = self.get(bid, key)
                self._forget(bid, key)
                if row is not None:
                    self.db.execute("DELETE FROM objects WHERE bid=? AND key=?", (bid, key))
                removed.append(row)
        return removed

    def rename(self, bid: str, src: str, dst: str) -> Row | None:
        """Move `src` to `dst` (replacing it); return the replaced row."""
        with self._txn():
            old = self.get(bid, dst)
            self._forget(bid, dst)
            self._forget(bid, src)
            if old:
                self.db.execute("DELETE FROM objects WHERE bid=? AND key=?", (bid, dst))
            self.db.execute("UPDATE objects SET key=? WHERE bid=? AND key=?", (dst, bid, src))
        return old

    def rename_prefix(self, bid: str, src: str, dst: str) -> int:
        """Move every key under `src` to the same key under `dst` in one transaction.

        The caller guarantees neither prefix contains the other and nothing exists under `dst`,
        so no renamed key can collide with another row.
        """
        upper = prefix_upper_bound(src)
        where = "bid=? AND key>=?" + (" AND key<?" if upper else "")
        args: tuple = (bid, src, upper) if upper else (bid, src)
        self._cache.clear()
        with self._txn():
            cur = self.db.execute(f"UPDATE objects SET key=? || substr(key, ?) WHERE {where}",
                                  (dst, len(src) + 1, *args))
        return cur.rowcount

    def update_meta(self, bid: str, key: str, meta: ObjectMeta) -> None:
        self._forget(bid, key)
        self.db.execute("UPDATE objects SET meta=?, ctype=? WHERE bid=? AND key=?",
                        (meta_to_row(bid, meta)[12], meta.content_type, bid, key))

    def touch(self, items: Iterable[tuple[int, str, str]]) -> None:
        """Write back batched atimes: (atime, bid, key)."""
        items = list(items)
        for _, bid, key in items:
            self._forget(bid, key)
        with self._txn():
            self.db.executemany("UPDATE objects SET atime=max(atime, ?) WHERE bid=? AND key=?", items)

    # ranges ---------------------------------------------------------------------------------
    def scan(self, bid: str, start: str, *, inclusive: bool, upper: str | None, limit: int,
             columns: str = COLUMNS) -> list[Row]:
        """Up to `limit` rows with start <(=) key < upper, in key order."""
        op = ">=" if inclusive else ">"
        if upper is None:
            q = f"SELECT {columns} FROM objects WHERE bid=? AND key{op}? ORDER BY key LIMIT ?"
            return self.db.execute(q, (bid, start, limit)).fetchall()
        q = f"SELECT {columns} FROM objects WHERE bid=? AND key{op}? AND key<? ORDER BY key LIMIT ?"
        return self.db.execute(q, (bid, start, upper, limit)).fetchall()

    def iter_prefix(self, bid: str, prefix: str, batch: int = 1000, columns: str = COLUMNS) -> Iterator[Row]:
        """All rows under `prefix`, fetched in batches so callers may yield between them."""
        upper = prefix_upper_bound(prefix)
        start, inclusive = prefix, True
        while True:
            rows = self.scan(bid, start, inclusive=inclusive, upper=upper, limit=batch, columns=columns)
            yield from rows
            if len(rows) < batch:
                return
            start, inclusive = rows[-1][0], False

    def has_prefix(self, bid: str, prefix: str) -> bool:
        return bool(self.scan(bid, prefix, inclusive=True, upper=prefix_upper_bound(prefix), limit=1, columns="key"))

    def longest_key_bytes(self, bid: str, prefix: str) -> int:
        """Length in UTF-8 bytes of the longest key under `prefix` (0 when none)."""
        upper = prefix_upper_bound(prefix)
        q = "SELECT max(length(CAST(key AS BLOB))) FROM objects WHERE bid=? AND key>=?" + (" AND key<?" if upper else "")
        (n,) = self.db.execute(q, (bid, prefix, upper) if upper else (bid, prefix)).fetchone()
        return n or 0

    def summary(self, bid: str) -> tuple[int, int]:
        n, size = self.db.execute("SELECT count(*), coalesce(sum(size),0) FROM objects WHERE bid=?", (bid,)).fetchone()
        return n, size

    def drop_bucket(self, bid: str) -> list[tuple[int, str]]:
        """Delete every row of a bucket in one transaction; return the data files to remove."""
        self._cache.clear()
        with self._txn():
            files = self.db.execute("SELECT mp, fid FROM objects WHERE bid=?", (bid,)).fetchall()
            self.db.execute("DELETE FROM objects WHERE bid=?", (bid,))
        return files

    def referenced_files(self) -> set[tuple[int, str]]:
        """(mountpath id, file id) of every data file some row refers to: the owners (any table with `mp`
        and `fid` columns) and, for a file that has an owner, the mirror copies the `copies` table places."""
        tables = [t for (t,) in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                  if t != COPIES_TABLE
                  and {"mp", "fid"} <= {col[1] for col in self.db.execute(f'PRAGMA table_info("{t}")')}]
        refs = {(mp, fid) for t in tables for mp, fid in self.db.execute(f'SELECT mp, fid FROM "{t}"')}
        owned = {fid for _, fid in refs}
        refs |= {(mp, fid) for fid, mp in self.db.execute("SELECT fid, mp FROM copies") if fid in owned}
        return refs

    # mirror copies -----------------------------------------------------------------------------
    def copies_of(self, fid: str) -> list[int]:
        """Mountpaths holding a mirror copy of data file `fid` (besides the one its owner's row names)."""
        return [mp for (mp,) in self.db.execute("SELECT mp FROM copies WHERE fid=?", (fid,))]

    def add_copies(self, fid: str, mps: Iterable[int]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO copies VALUES(?,?)", [(fid, mp) for mp in mps])

    def drop_copies(self, fid: str, mps: Iterable[int]) -> None:
        self.db.executemany("DELETE FROM copies WHERE fid=? AND mp=?", [(fid, mp) for mp in mps])

    def pop_copies(self, fids: list[str]) -> list[tuple[int, str]]:
        """Forget the copies of data files whose owner is gone; returns them for removal."""
        if self.db.execute("SELECT 1 FROM copies LIMIT 1").fetchone() is None:
            return []   # no bucket was ever mirrored: nothing to look up per file
        out: list[tuple[int, str]] = []
        with self._txn():
            for fid in fids:
                mps = self.copies_of(fid)
                if mps:
                    self.db.execute("DELETE FROM copies WHERE fid=?", (fid,))
                    out += [(mp, fid) for mp in mps]
        return out

    def drop_stray_copies(self, referenced: set[str]) -> int:
        """Rows of copies whose owner is gone (a crash between two commits); their files are orphans."""
        stray = [(fid,) for (fid,) in self.db.execute("SELECT DISTINCT fid FROM copies") if fid not in referenced]
        with self._txn():
            self.db.executemany("DELETE FROM copies WHERE fid=?", stray)
        return len(stray)

    # -----------------------------------------------------------------------------------------
    def _txn(self) -> "_Txn":
        return _Txn(self.db)


class ReadOnlyIndex(Index):
    """A worker process's view of the owner's index (`aisfs serve --workers`): SQLite refuses its
    writes, and it keeps no row cache, since nothing would tell it when the owner changes a row (WAL
    gives every read the last commit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None,
                                  check_same_thread=False)
        found = self.db.execute("PRAGMA user_version").fetchone()[0]
        if found != FORMAT:
            self.db.close()
            raise DataDirFormat(f"{path.parent} is in data format {found}; this aisfs worker reads {FORMAT}")
        self._cache = {}

    def get(self, bid: str, key: str) -> Row | None:
        return self.db.execute(f"SELECT {COLUMNS} FROM objects WHERE bid=? AND key=?", (bid, key)).fetchone()

    def mountpath_id(self, path: str) -> int:
        row = self.db.execute("SELECT id FROM mountpaths WHERE path=?", (path,)).fetchone()
        if row is None:
            raise DataDirFormat(f"mountpath {path} is not registered in {self.path}")
        return row[0]


class IndexReader:
    """A read-only connection of its own, for a worker thread: WAL lets it read beside the engine's writes."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)

    def close(self) -> None:
        self.db.close()

    def files_after(self, bid: str, after: str, *, upto: str | None, limit: int, inclusive_upto: bool = True
                    ) -> list[tuple[str, int, str, int]]:
        """(key, mountpath id, data file id, size) of up to `limit` objects with after < key <(=) upto."""
        op = "<=" if inclusive_upto else "<"
        bound = f" AND key{op}?" if upto is not None else ""
        args = (bid, after, upto, limit) if upto is not None else (bid, after, limit)
        return self.db.execute(f"SELECT key, mp, fid, size FROM objects WHERE bid=? AND key>?{bound} "
                               "ORDER BY key LIMIT ?", args).fetchall()

    def count_between(self, bid: str, after: str, upto: str, *, limit: int) -> int:
        """How many objects have after < key <= upto, counting no further than `limit`."""
        (n,) = self.db.execute("SELECT count(*) FROM (SELECT 1 FROM objects WHERE bid=? AND key>? AND key<=? "
                               "LIMIT ?)", (bid, after, upto, limit)).fetchone()
        return n


class _Txn:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
