"""S3 object versioning, beyond AIStore (which keeps only the last version).

A bucket's `versioning.s3` prop is "" (never enabled), "Enabled" or "Suspended"; it is separate
from `versioning.enabled`, AIStore's per-object version counter. The current version of a key
stays in the index's `objects` table (its S3 version id in `vid`); older versions and delete
markers live in this module's `s3_versions` table, their data files untouched on the mountpaths.
Every read by version id, by any face, goes through here.
"""
from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import trio

from .bprops import ACCESS_DELETE, ACCESS_GET, ACCESS_HEAD, ACCESS_PUT
from .errors import AisError, BucketNotEmpty, ObjectNotFound, VersionNotFound
from .index import COLUMNS, Row, register_schema, row_to_meta
from .meta import ObjectMeta
from .names import prefix_upper_bound

if TYPE_CHECKING:
    from .core import Engine
    from .objects import ObjectReader

SCHEMA = """
CREATE TABLE IF NOT EXISTS s3_versions(
    bid TEXT NOT NULL, key TEXT NOT NULL, mp INTEGER NOT NULL, fid TEXT NOT NULL, size INTEGER NOT NULL,
    cksum_type TEXT NOT NULL, cksum TEXT NOT NULL, version TEXT NOT NULL, etag TEXT NOT NULL,
    atime INTEGER NOT NULL, mtime INTEGER NOT NULL, ctype TEXT NOT NULL, meta TEXT NOT NULL,
    vid TEXT NOT NULL, marker INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(bid, key, vid)
) WITHOUT ROWID;
"""
register_schema(SCHEMA)

VCOLUMNS = COLUMNS + ", marker"


class DeleteMarkerRead(AisError):
    """S3 answers a GET/HEAD of a delete marker's version id with 405."""

    status, code = 405, "MethodNotAllowed"


@dataclass(slots=True)
class Deleted:
    marker: bool = False   # the delete added (or removed) a delete marker
    vid: str = ""          # the version id concerned ("" when the bucket never had versioning)


@dataclass(slots=True)
class VersionEntry:
    meta: ObjectMeta
    latest: bool
    marker: bool


def status(props: dict[str, Any]) -> str:
    return str(props.get("versioning", {}).get("s3", ""))


def new_vid(props: dict[str, Any]) -> str:
    """Version id for a new write: time-ordered and unique with versioning Enabled, else "null"."""
    if status(props) != "Enabled":
        return "null"
    return f"{time.time_ns():016x}{secrets.token_hex(6)}"


def _db(eng: "Engine") -> sqlite3.Connection:
    return eng.index.db


def _insert(eng: "Engine", bid: str, row: Row, marker: bool = False) -> None:
    _db(eng).execute(f"INSERT OR REPLACE INTO s3_versions(bid, {VCOLUMNS}) VALUES({','.join('?' * 15)})",
                     (bid, *row, int(marker)))


def _get(eng: "Engine", bid: str, key: str, vid: str) -> tuple[Row, bool] | None:
    r = _db(eng).execute(f"SELECT {VCOLUMNS} FROM s3_versions WHERE bid=? AND key=? AND vid=?",
                         (bid, key, vid)).fetchone()
    return (r[:13], bool(r[13])) if r else None


def _take(eng: "Engine", bid: str, key: str, vid: str) -> tuple[Row, bool] | None:
    """Remove one non-current version's row; its data file is the caller's to remove."""
    found = _get(eng, bid, key, vid)
    if found is not None:
        _db(eng).execute("DELETE FROM s3_versions WHERE bid=? AND key=? AND vid=?", (bid, key, vid))
    return found


def _remove(eng: "Engine", bid: str, key: str, vid: str) -> tuple[Row, bool] | None:
    found = _take(eng, bid, key, vid)
    if found is not None and not found[1]:
        eng._unlink_files([(found[0][1], found[0][2])])
    return found


def retire(eng: "Engine", bid: str, props: dict[str, Any], old: Row | None, key: str,
           new_vid_: str) -> list[tuple[int, str]]:
    """A new current version replaced `old` (runs inside the index transaction): keep `old` as a
    non-current version, or return its data file (and a replaced "null" version's) for removal."""
    st = status(props)
    drop: list[tuple[int, str]] = []
    if st and new_vid_ == "null":
        found = _take(eng, bid, key, "null")   # Suspended: the new write is the one "null" version
        if found is not None and not found[1]:
            drop.append((found[0][1], found[0][2]))
    if old is None:
        return drop
    if st and old[12] != "null" or (st == "Enabled" and old[12] == "null"):
        _insert(eng, bid, old)
    else:
        drop.append((old[1], old[2]))
    return drop


def holds(eng: "Engine", bid: str, key: str, fid: str) -> bool:
    """Whether an older version of `key` has data file `fid`."""
    return _db(eng).execute("SELECT 1 FROM s3_versions WHERE bid=? AND key=? AND fid=? AND marker=0",
                            (bid, key, fid)).fetchone() is not None


def data_rows(eng: "Engine", bid: str, batch: int = 1000) -> Iterator[Row]:
    """Older versions of a bucket that have data (not delete markers), in batches (a snapshot per batch)."""
    after: tuple[str, str] = ("", "")
    while True:
        rows = _db(eng).execute(f"SELECT {COLUMNS} FROM s3_versions WHERE bid=? AND marker=0 AND (key, vid) > (?, ?) "
                                "ORDER BY key, vid LIMIT ?", (bid, *after, batch)).fetchall()
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1][0], rows[-1][12])


def _marker_row(key: str, vid: str) -> Row:
    now = time.time_ns()
    return (key, 0, "", 0, "none", "", "", "", now, now, "", "{}", vid)


# reads --------------------------------------------------------------------------------------------
def _find(eng: "Engine", bucket: str, key: str, vid: str, access: int) -> tuple[ObjectMeta, bool]:
    """(meta, is_current) of a version; errors as S3 gives them."""
    props, bid = eng._bucket(bucket, access)
    cur = eng.index.get(bid, key)
    if cur is not None and (not vid or cur[12] == vid):
        return row_to_meta(bucket, cur), True
    if not vid:
        raise ObjectNotFound(f"object \"ais://{bucket}/{key}\" does not exist")
    found = _get(eng, bid, key, vid)
    if found is None:
        raise VersionNotFound(f"version {vid!r} of \"ais://{bucket}/{key}\" does not exist")
    if found[1]:
        raise DeleteMarkerRead("the specified version is a delete marker", delete_marker=True, version_id=vid)
    return row_to_meta(bucket, found[0]), False


def _not_found(eng: "Engine", bucket: str, key: str, err: ObjectNotFound) -> ObjectNotFound:
    """A key whose latest version is a delete marker says so (S3's x-amz-delete-marker)."""
    props = eng.bucket_props(bucket)
    if status(props):
        r = _db(eng).execute("SELECT vid, marker FROM s3_versions WHERE bid=? AND key=? ORDER BY mtime DESC, vid DESC "
                             "LIMIT 1", (props["bid"], key)).fetchone()
        if r and r[1]:
            return ObjectNotFound(err.message, delete_marker=True, version_id=r[0])
    return err


async def head(eng: "Engine", bucket: str, key: str, vid: str = "") -> ObjectMeta:
    if not vid:
        try:
            return await eng.head_object(bucket, key)
        except ObjectNotFound as e:
            raise _not_found(eng, bucket, key, e) from None
    return _find(eng, bucket, key, vid, ACCESS_HEAD)[0]


async def open(eng: "Engine", bucket: str, key: str, vid: str = "") -> "ObjectReader":
    if not vid:
        try:
            return await eng.open_object(bucket, key)
        except ObjectNotFound as e:
            raise _not_found(eng, bucket, key, e) from None
    meta, current = _find(eng, bucket, key, vid, ACCESS_GET)
    if current:
        return await eng.open_object(bucket, key)
    props = eng.bucket_props(bucket)
    return await eng._open_data(meta, props["bid"], props["checksum"]["validate_warm_get"])


async def copy(eng: "Engine", src_bucket: str, src_key: str, vid: str, dst_bucket: str, dst_key: str,
               **kw: Any) -> ObjectMeta:
    """Copy a version (the current one unless `vid` names an older one) to a new current version."""
    if not vid or _find(eng, src_bucket, src_key, vid, ACCESS_GET)[1]:
        return await eng.copy_object(src_bucket, src_key, dst_bucket, dst_key, **kw)
    eng.check_copy_target(dst_bucket, dst_key)
    with await open(eng, src_bucket, src_key, vid) as src:
        return await eng.copy_reader(src, dst_bucket, dst_key, **kw)


# deletes -----------------------------------------------------------------------------------------
async def delete(eng: "Engine", bucket: str, key: str, vid: str = "") -> Deleted:
    """S3 DELETE: a delete marker (versioning on), one version (`vid`), or the object; missing is fine.
    Durable when it returns."""
    deleted = await _delete(eng, bucket, key, vid)
    await eng.make_durable()
    return deleted


async def delete_many(eng: "Engine", bucket: str, items: list[tuple[str, str]]) -> list[Deleted | AisError]:
    """S3 DeleteObjects: each (key, version id) deleted as `delete` would, with a result or an error per
    item, made durable once at the end. Without versioning, keys are removed a batch per transaction."""
    try:
        props, bid = eng._bucket(bucket, ACCESS_DELETE)
    except AisError as e:  # S3 answers each key with the error (AccessDenied on a read-only bucket)
        return [e] * len(items)
    results: list[Deleted | AisError] = []
    if not status(props) and not any(vid for _, vid in items):
        for _ in eng._remove_batches(bid, (key for key, _ in items)):
            await trio.sleep(0)
        results += [Deleted() for _ in items]
    else:
        for key, vid in items:
            try:
                results.append(await _delete(eng, bucket, key, vid))
            except AisError as e:
                results.append(e)
    await eng.make_durable()
    return results


async def _delete(eng: "Engine", bucket: str, key: str, vid: str) -> Deleted:
    props, bid = eng._bucket(bucket, ACCESS_DELETE)
    st = status(props)
    cur = eng.index.get(bid, key)
    if vid:
        if cur is not None and cur[12] == vid:
            eng.index.delete(bid, key)
            eng._unlink_files([(cur[1], cur[2])])
            _promote(eng, bid, key)
            return Deleted(False, vid)
        found = _remove(eng, bid, key, vid)
        if found is not None and cur is None:
            _promote(eng, bid, key)   # the removed one may have been the latest (a delete marker)
        return Deleted(bool(found and found[1]), vid)
    if not st:
        try:
            await eng.delete_object(bucket, key, durable=False)
        except ObjectNotFound:
            pass
        return Deleted()
    mvid = new_vid(props) if st == "Enabled" else "null"
    drop: list[tuple[int, str]] = []
    db = _db(eng)
    with _transaction(db):   # the current version moves to the history and the marker appears together
        if cur is not None:
            db.execute("DELETE FROM objects WHERE bid=? AND key=?", (bid, key))
            eng.index._forget(bid, key)   # the index's hot-row cache
            if cur[12] == "null" and st == "Suspended":
                drop.append((cur[1], cur[2]))
            else:
                _insert(eng, bid, cur)
        if mvid == "null":
            old_null = _get(eng, bid, key, "null")
            if old_null is not None:
                db.execute("DELETE FROM s3_versions WHERE bid=? AND key=? AND vid='null'", (bid, key))
                if not old_null[1]:
                    drop.append((old_null[0][1], old_null[0][2]))
        _insert(eng, bid, _marker_row(key, mvid), marker=True)
    eng._unlink_files(drop)
    return Deleted(True, mvid)


@contextlib.contextmanager
def _transaction(db: Any) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _promote(eng: "Engine", bid: str, key: str) -> None:
    """After the current version is deleted by id, the newest older version (if not a marker) is current."""
    r = _db(eng).execute(f"SELECT {VCOLUMNS} FROM s3_versions WHERE bid=? AND key=? ORDER BY mtime DESC, vid DESC "
                         "LIMIT 1", (bid, key)).fetchone()
    if r is None or r[13]:
        return
    def leave_history(replaced: Row | None) -> list[tuple[int, str]]:
        _db(eng).execute("DELETE FROM s3_versions WHERE bid=? AND key=? AND vid=?", (bid, key, r[12]))
        return [(replaced[1], replaced[2])] if replaced is not None else []

    eng._unlink_files(eng.index.put(bid, row_to_meta("", r[:13]), leave_history))  # one transaction


# listing -----------------------------------------------------------------------------------------
def list_versions(eng: "Engine", bucket: str, *, prefix: str = "", key_marker: str = "", vid_marker: str = "",
                  limit: int = 1000, delimiter: str = "") -> tuple[list[VersionEntry | str], bool, str, str]:
    """Up to `limit` versions and common prefixes in S3 order (key, newest first).

    Returns (entries, truncated, next_key_marker, next_version_id_marker); a str entry is a common prefix.
    """
    props, bid = eng._bucket(bucket, ACCESS_GET)
    db = _db(eng)
    upper = prefix_upper_bound(prefix) if prefix else None
    start, inclusive = (key_marker, bool(vid_marker)) if key_marker and key_marker >= prefix else (prefix, True)
    if delimiter and key_marker and not vid_marker and delimiter in key_marker[len(prefix):]:
        nxt = prefix_upper_bound(key_marker)   # the marker is a common prefix: resume after all under it
        if nxt is None:
            return [], False, "", ""
        start, inclusive = nxt, True
    skip_until_vid = vid_marker if key_marker and vid_marker else ""
    out: list[VersionEntry | str] = []
    batch = max(limit + 1, 256)
    latest_seen: set[str] = set()
    while True:
        rows, last_key, more = _window(db, bid, start, inclusive, upper, batch)
        if not rows and not more:
            return out, False, "", ""
        if not rows:          # one key has more versions than a window: widen it
            batch *= 2
            continue
        folded = False
        for r in rows:
            key = r[0]
            if skip_until_vid:
                if key == key_marker:
                    latest_seen.add(key)
                    if r[12] == skip_until_vid:
                        skip_until_vid = ""
                    continue
                skip_until_vid = ""
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    cp = key[: cut + len(delimiter)]
                    if len(out) >= limit:
                        return out, True, _marker_of(out), _vid_of(out)
                    out.append(cp)
                    nxt = prefix_upper_bound(cp)
                    if nxt is None:
                        return out, False, "", ""
                    start, inclusive, folded = nxt, True, True
                    break
            if len(out) >= limit:
                return out, True, _marker_of(out), _vid_of(out)
            # The latest is the current version or a delete marker above it; an older version left on
            # top by a plain (non-S3) delete of the current one is not what a GET would serve.
            is_latest = key not in latest_seen and (r[14] == 1 or bool(r[13]))
            latest_seen.add(key)
            out.append(VersionEntry(row_to_meta(bucket, r[:13]), is_latest, bool(r[13])))
        if folded:
            continue
        if not more:
            return out, False, "", ""
        start, inclusive = last_key, False   # windows hold whole keys: go on after the last one


def _window(db: Any, bid: str, start: str, inclusive: bool, upper: str | None,
            batch: int) -> tuple[list[Row], str, bool]:
    """Every version of the next keys from `start`, as whole keys, in S3 order (key, latest first).

    Two range scans by primary key (current versions, then older ones), merged here, so a page costs
    what it returns however many versions the bucket holds. Returns (rows, last key, more may follow).
    """
    op = ">=" if inclusive else ">"
    where = f"bid=? AND key{op}?" + (" AND key<?" if upper else "")
    args: tuple = (bid, start, upper) if upper else (bid, start)
    cur = db.execute(f"SELECT {COLUMNS}, 0, 1 FROM objects WHERE {where} ORDER BY key LIMIT ?",
                     (*args, batch)).fetchall()
    old = db.execute(f"SELECT {VCOLUMNS}, 0 FROM s3_versions WHERE {where} ORDER BY key LIMIT ?",
                     (*args, batch)).fetchall()
    cur_cut = cur[-1][0] if len(cur) == batch else None     # keys after this one were not read
    old_cut = old[-1][0] if len(old) == batch else None     # this key and later ones may be partial

    def whole(key: str) -> bool:
        return (cur_cut is None or key <= cur_cut) and (old_cut is None or key < old_cut)

    rows = sorted((r for r in (*cur, *old) if whole(r[0])), key=lambda r: (r[0], -r[14], -r[9], _desc(r[12])))
    more = cur_cut is not None or old_cut is not None
    return rows, rows[-1][0] if rows else "", more


def _desc(s: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in s)


def _marker_of(out: list[VersionEntry | str]) -> str:
    last = out[-1]
    return last if isinstance(last, str) else last.meta.key


def _vid_of(out: list[VersionEntry | str]) -> str:
    last = out[-1]
    return "" if isinstance(last, str) else last.meta.vid


def check_empty(eng: "Engine", bucket: str, props: dict[str, Any]) -> None:
    if _db(eng).execute("SELECT 1 FROM s3_versions WHERE bid=? LIMIT 1", (props["bid"],)).fetchone():
        raise BucketNotEmpty(f"bucket \"ais://{bucket}\" still holds object versions")


def drop_bucket(eng: "Engine", bid: str) -> list[tuple[int, str]]:
    """Forget a destroyed bucket's old versions; returns their data files for the caller to remove."""
    db = _db(eng)
    files = db.execute("SELECT mp, fid FROM s3_versions WHERE bid=? AND marker=0", (bid,)).fetchall()
    db.execute("DELETE FROM s3_versions WHERE bid=?", (bid,))
    return [(mp, fid) for mp, fid in files]

