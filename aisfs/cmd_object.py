"""`aisfs ls|put|get|cat|rm|head`: objects, single or by the directory, streamed both ways."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from engine.errors import AisError, ObjectNotFound
from engine.http.apc import ENTRY_IS_DIR
from engine.http.custom_md import parse_custom_md
from engine.listing import MAX_PAGE

from . import uri
from .client import Client, ObjectInfo, file_checksum, file_chunks
from .cmd_bucket import list_buckets
from .cmdutil import (PROGRESS_MIN_BYTES, PROGRESS_MIN_FILES, Progress, UsageError, add_command, add_json_flag,
                      add_progress_flags, add_wait_flags, client, human_size, parse_uri, print_json, started_job,
                      table, warn)

DEFAULT_WORKERS = 4
# AIStore's "all", less cached, status and ec (the same for every object here)
ALL_PROPS = "name,size,version,checksum,atime,copies,custom,location"
COLUMNS = {"name": "NAME", "size": "SIZE", "version": "VERSION", "checksum": "CHECKSUM", "atime": "ATIME",
           "custom": "CUSTOM", "etag": "ETAG", "last-modified": "LAST-MODIFIED", "copies": "COPIES",
           "location": "LOCATION"}


def object_arg(text: str) -> uri.Uri:
    """`ais://b/key` or `b/key` with a non-empty key."""
    u = parse_uri(text)
    if not u.key:
        raise UsageError(f"{text!r}: expected an object (ais://BUCKET/OBJECT)")
    return u


def as_dir_prefix(key: str) -> str:
    """`dir` and `dir/` both mean the virtual directory `dir/` ("" stays the whole bucket)."""
    return key if not key or key.endswith("/") else key + "/"


# ls --------------------------------------------------------------------------------------------------
def cmd_ls(args: argparse.Namespace) -> int:
    if args.target in (None, "", "ais://"):
        if args.prefix or args.props or args.limit:
            raise UsageError("--prefix, --props and --limit need a bucket: aisfs ls ais://BUCKET")
        return list_buckets(args)
    u = parse_uri(args.target)
    if u.key and args.prefix:
        raise UsageError("give the prefix either in the URI or with --prefix, not both")
    props = _ls_props(args)
    page_size = args.page_size or (min(args.limit, MAX_PAGE) if args.limit else 0)  # do not fetch 10k to show 10
    kw = dict(prefix=u.key or args.prefix or "", props=",".join(props), names_only=props == ["name"],
              no_recursion=args.no_recursion, page_size=page_size)
    with client(args) as cl:
        entries = cl.iter_objects(u.bucket, limit=args.limit or 0, **kw)
        if args.json:
            _print_json_stream(entries)
        else:
            _print_listing(entries, props, args)
    return 0


def _ls_props(args: argparse.Namespace) -> list[str]:
    text = ALL_PROPS if args.all_props else (args.props or "name,size")
    props = [p.strip() for p in text.split(",") if p.strip()]
    if props == ["all"]:
        props = ALL_PROPS.split(",")
    unknown = [p for p in props if p not in COLUMNS]
    if unknown:
        raise UsageError(f"unknown --props {', '.join(unknown)} (choose from {', '.join(COLUMNS)}, or all)")
    return ["name"] + [p for p in props if p != "name"]


def _print_json_stream(entries: Iterable[dict[str, Any]]) -> None:
    """A JSON array written entry by entry, so a huge bucket never sits in memory."""
    out = sys.stdout
    out.write("[")
    for i, e in enumerate(entries):
        out.write(("," if i else "") + "\n  " + json.dumps(e, ensure_ascii=False))
    out.write("\n]\n")


def _print_listing(entries: Iterator[dict[str, Any]], props: list[str], args: argparse.Namespace) -> None:
    """A table printed 1000 rows at a time (columns sized by what was seen so far): a huge bucket
    starts printing at once and never sits in memory."""
    header = None if args.no_headers else [COLUMNS[p] for p in props]
    widths: list[int] | None = None
    batch: list[list[str]] = []
    total = 0
    for e in entries:
        batch.append([_cell(e, p, args.raw) for p in props])
        total += 1
        if len(batch) >= 1000:
            widths = table(header, batch, widths=widths)
            header, batch = None, []
    if batch:
        table(header, batch, widths=widths)
    if total == 0 and not args.no_headers:
        print("No objects.")


def _cell(e: dict[str, Any], prop: str, raw: bool) -> str:
    if e.get("flags", 0) & ENTRY_IS_DIR:
        return e["name"] if prop == "name" else "-"
    v = e.get("custom-md" if prop == "custom" else prop)
    if prop == "size" and isinstance(v, int):
        return str(v) if raw else human_size(v)
    if prop == "custom":
        return ",".join(f"{k}={x}" for k, x in (v or {}).items()) or "-"
    return "-" if v in (None, "") else str(v)


# head ------------------------------------------------------------------------------------------------
def cmd_head(args: argparse.Namespace) -> int:
    u = parse_uri(args.target)
    with client(args) as cl:
        if not u.key:
            s = cl.bucket_summary(u.bucket)
            return _print_summary(args, uri.bucket_uri(u.bucket), s["objects"], s["size"], s)
        try:
            info = cl.head_object(u.bucket, u.key)
        except ObjectNotFound:
            if not u.key.endswith("/"):
                raise
            # a virtual directory: what lies under it
            count = size = 0
            for e in cl.iter_objects(u.bucket, prefix=u.key, props="name,size"):
                count, size = count + 1, size + int(e.get("size", 0))
            if not count:
                raise
            return _print_summary(args, str(u), count, size,
                                 {"name": u.key, "bucket": u.bucket, "objects": count, "size": size})
    if args.json:
        print_json(info.to_json())
        return 0
    rows = [["name", info.uri], ["size", str(info.size) if args.raw else human_size(info.size)],
            ["checksum", f"{info.cksum_type}:{info.cksum_value}" if info.cksum_value else "-"],
            ["etag", info.etag or "-"], ["version", info.version or "-"],
            ["content-type", info.content_type or "-"], ["last-modified", info.last_modified or "-"],
            ["custom", ",".join(f"{k}={v}" for k, v in info.custom.items()) or "-"]]
    table(["PROPERTY", "VALUE"], rows)
    return 0


def _print_summary(args: argparse.Namespace, name: str, count: int, size: int, doc: dict[str, Any]) -> int:
    """A bucket's or a directory's object count and total size."""
    if args.json:
        print_json(doc)
    else:
        table(["PROPERTY", "VALUE"], [["name", name], ["objects", str(count)],
                                      ["size", str(size) if args.raw else human_size(size)]])
    return 0


# put -------------------------------------------------------------------------------------------------
@dataclass
class Upload:
    path: Path
    key: str
    size: int


def cmd_put(args: argparse.Namespace) -> int:
    dst = parse_uri(args.dst)
    custom = parse_custom_md(args.meta) if args.meta else None
    if args.srcs == ["-"]:
        if not dst.key or dst.key.endswith("/"):
            raise UsageError("put from stdin needs an object name: aisfs put - ais://BUCKET/OBJECT")
        if args.compute_checksum:
            raise UsageError("--compute-checksum needs a file (stdin cannot be read twice)")
        return _put_stdin(args, dst, custom)
    for s in args.srcs:
        if s == "-" or not Path(s).exists():
            raise UsageError(f"{s}: no such file or directory" if s != "-" else "stdin ('-') must be the only source")
    if len(args.srcs) == 1:
        return _put_path(args, Path(args.srcs[0]), dst, custom)
    # Several sources (`aisfs put *.jpg dir2 ais://b/x/`): like `cp -r`, each keeps its name under DST.
    into = as_dir_prefix(dst.key)
    rc = 0
    for s in args.srcs:
        src = Path(s)
        target = uri.Uri(dst.bucket, into + src.resolve().name + "/") if src.is_dir() else uri.Uri(dst.bucket, into)
        rc = max(rc, _put_path(args, src, target, custom))
    return rc


def _put_path(args: argparse.Namespace, src: Path, dst: uri.Uri, custom: dict[str, str] | None) -> int:
    """One file or directory to DST."""
    if src.is_dir():
        return _put_dir(args, src, dst, custom)
    key = dst.key + src.name if not dst.key or dst.key.endswith("/") else dst.key
    size = src.stat().st_size
    if args.dry_run:
        print(f"[dry run] PUT \"{src}\" => {uri.object_uri(dst.bucket, key)} ({human_size(size)})")
        return 0
    with client(args) as cl, Progress(args, size, key, long=size >= PROGRESS_MIN_BYTES) as bar:
        ctype = _checksum_type(cl, args, dst.bucket)
        _upload(cl, Upload(src, key, size), dst.bucket, args, custom, bar.update, ctype)
    print(f"PUT \"{src}\" => {uri.object_uri(dst.bucket, key)} ({human_size(size)})")
    return 0


def _checksum_type(cl: Client, args: argparse.Namespace, bucket: str) -> str:
    """With --compute-checksum: the bucket's checksum type, which the server then verifies ("" = none)."""
    if not args.compute_checksum:
        return ""
    ctype = str(cl.head_bucket(bucket)["checksum"]["type"])
    return "" if ctype == "none" else ctype


def _upload(cl: Client, up: Upload, bucket: str, args: argparse.Namespace, custom: dict[str, str] | None,
            on_chunk: Callable[[int], None], cksum_type: str = "") -> ObjectInfo:
    """Stream one file; its size goes in Content-Length so the server can check the body is whole, and
    with `cksum_type` its checksum (one extra read pass) so the server checks the bytes too."""
    with open(up.path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        checksum = None
        if cksum_type:
            checksum = (cksum_type, file_checksum(f, cksum_type))
            f.seek(0)
        return cl.put_object(bucket, up.key, file_chunks(f, on_chunk), size=size,
                             content_type=args.content_type or "", custom=custom, checksum=checksum)


def _put_stdin(args: argparse.Namespace, dst: uri.Uri, custom: dict[str, str] | None) -> int:
    sent = 0

    def count(n: int) -> None:
        nonlocal sent
        sent += n
        bar.update(n)

    with client(args) as cl, Progress(args, None, dst.key) as bar:
        stdin = sys.stdin.buffer
        cl.put_object(dst.bucket, dst.key, file_chunks(stdin, count, chunk=1 << 16), size=None,
                      content_type=args.content_type or "", custom=custom)
    print(f"PUT (stdin) => {dst} ({human_size(sent)})")
    return 0


def _walk(root: Path, prefix: str) -> list[Upload]:
    """Regular files under `root` (symlinked files followed, symlinked dirs not), in name order."""
    out: list[Upload] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if not p.is_file():
                warn(f"skipping {p}: not a regular file")
                continue
            rel = p.relative_to(root).as_posix()
            out.append(Upload(p, prefix + rel, p.stat().st_size))
    return out


def _put_dir(args: argparse.Namespace, src: Path, dst: uri.Uri, custom: dict[str, str] | None) -> int:
    prefix = as_dir_prefix(dst.key)
    uploads = _walk(src, prefix)
    total = sum(u.size for u in uploads)
    where = uri.object_uri(dst.bucket, prefix)
    if args.dry_run:
        for u in uploads:
            print(f"[dry run] PUT \"{u.path}\" => {uri.object_uri(dst.bucket, u.key)}")
        print(f"[dry run] {len(uploads)} objects ({human_size(total)}) from \"{src}\" => {where}")
        return 0
    long = total >= PROGRESS_MIN_BYTES or len(uploads) >= PROGRESS_MIN_FILES
    with client(args) as cl, Progress(args, total, where, long=long) as bar:
        ctype = _checksum_type(cl, args, dst.bucket)
        failed = _run_parallel(args, uploads,
                               lambda up: _upload(cl, up, dst.bucket, args, custom, bar.update, ctype),
                               lambda up: f"PUT \"{up.path}\"")
    print(f"PUT {len(uploads) - failed} objects ({human_size(total)}) from \"{src}\" => {where}")
    return 1 if failed else 0


def _run_parallel(args: argparse.Namespace, items: list[Any], work: Callable[[Any], Any],
                  describe: Callable[[Any], str]) -> int:
    """Run `work` over items on --num-workers threads; report each failure, return how many failed."""
    failed = 0
    pool = ThreadPoolExecutor(max_workers=max(1, args.num_workers))
    try:
        futures = [(item, pool.submit(work, item)) for item in items]
        for item, fut in futures:
            try:
                fut.result()
            except (AisError, OSError) as e:
                failed += 1
                warn(f"{describe(item)}: {_err_text(e)}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C: drop what has not started
    return failed


def _err_text(e: BaseException) -> str:
    if isinstance(e, AisError):
        return e.message
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return str(e)


# get -------------------------------------------------------------------------------------------------
def cmd_get(args: argparse.Namespace) -> int:
    src = parse_uri(args.src)
    if args.checksum and (args.offset or args.length):
        raise UsageError("--checksum validates whole objects; it does not combine with --offset/--length")
    if src.key and args.prefix:
        raise UsageError("give the prefix either in the URI or with --prefix, not both")
    if not src.key or src.key.endswith("/") or args.prefix:
        if args.dst == "-":
            raise UsageError("many objects cannot go to stdout; give a directory")
        if args.offset or args.length:
            raise UsageError("--offset/--length apply to one object")
        return _get_many(args, src.bucket, src.key or args.prefix)
    try:
        return _get_one(args, src)
    except ObjectNotFound:
        # `get ais://b/dir` where dir/ is a virtual directory: download it, as `cp -r dir` would.
        if args.dst == "-" or args.offset or args.length or not _has_prefix(args, src.bucket, src.key + "/"):
            raise
        return _get_many(args, src.bucket, src.key + "/")


def _has_prefix(args: argparse.Namespace, bucket: str, prefix: str) -> bool:
    with client(args) as cl:
        return bool(cl.list_objects(bucket, prefix=prefix, page_size=1, names_only=True).get("entries"))


def _get_one(args: argparse.Namespace, src: uri.Uri) -> int:
    with client(args) as cl, Progress(args, None, src.key) as bar:
        if args.dst == "-":
            out = sys.stdout.buffer
            cl.download(src.bucket, src.key, out, offset=args.offset, length=args.length, on_chunk=bar.update,
                        on_open=lambda info: bar.set_total(info.length), verify=args.checksum)
            out.flush()
            return 0
        dst = Path(args.dst) if args.dst else Path(_basename(src.key))
        if dst.is_dir() or (args.dst or "").endswith(os.sep):
            dst = dst / _basename(src.key)
        info = _download(cl, src.bucket, src.key, dst, bar, args, sized=True)
    print(f"GET {src} => \"{dst}\" ({human_size(info.length if info.length >= 0 else info.size)})")
    return 0


def _basename(key: str) -> str:
    name = key.rstrip("/").rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        raise UsageError(f"cannot name a local file after {key!r}; give a destination")
    return name


def _download(cl: Client, bucket: str, key: str, dst: Path, bar: Progress, args: argparse.Namespace, *,
              sized: bool = False) -> ObjectInfo:
    """Into a temp file beside `dst`, renamed when complete: no half-written files under the real name.

    `sized`: the bar is this object's own, so its total is the object's size."""
    on_open = (lambda info: bar.set_total(info.length)) if sized else None
    if dst.exists() and not dst.is_file():  # /dev/null, a fifo: write in place
        with open(dst, "wb") as f:
            return cl.download(bucket, key, f, offset=args.offset, length=args.length, on_chunk=bar.update,
                               on_open=on_open, verify=args.checksum)
    dst.parent.mkdir(parents=True, exist_ok=True)
    short = dst.name.encode()[:100].decode(errors="ignore")  # a 255-byte name leaves no room for the suffix
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{short}.", suffix=".aisfs-part")
    try:
        with os.fdopen(fd, "wb") as f:
            info = cl.download(bucket, key, f, offset=args.offset, length=args.length, on_chunk=bar.update,
                               on_open=on_open, verify=args.checksum)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp's 0600 would surprise; give what open() would
        os.replace(tmp, dst)
        return info
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_umask() -> int:
    """Read once at import, while single-threaded (os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()


def local_path(root: Path, rel: str) -> Path | None:
    """Where an object lands under `root`, or None when its name cannot be a safe local path."""
    parts = rel.split("/")
    if rel.endswith("/"):
        parts = parts[:-1]
    if not parts or any(p in ("", ".", "..") or "\0" in p for p in parts):
        return None
    return root.joinpath(*parts)


def _get_many(args: argparse.Namespace, bucket: str, prefix: str) -> int:
    """Every object under `prefix` into the directory `dst`, names relative to the prefix's directory."""
    root = Path(args.dst or ".")
    base = prefix[: prefix.rfind("/") + 1]
    with client(args) as cl:
        entries = list(cl.iter_objects(bucket, prefix=prefix, props="name,size"))
        jobs: list[tuple[str, Path, int]] = []
        for e in entries:
            path = local_path(root, e["name"][len(base):])
            if path is None:
                warn(f"skipping {uri.object_uri(bucket, e['name'])}: its name is not a safe local path")
            elif e["name"].endswith("/"):
                path.mkdir(parents=True, exist_ok=True)  # a directory marker
            else:
                jobs.append((e["name"], path, int(e.get("size", 0))))
        total = sum(j[2] for j in jobs)
        root.mkdir(parents=True, exist_ok=True)
        long = total >= PROGRESS_MIN_BYTES or len(jobs) >= PROGRESS_MIN_FILES
        with Progress(args, total, uri.object_uri(bucket, prefix), long=long) as bar:
            failed = _run_parallel(args, jobs, lambda j: _download(cl, bucket, j[0], j[1], bar, args),
                                   lambda j: f"GET {uri.object_uri(bucket, j[0])}")
    skipped = len(entries) - len(jobs)
    print(f"GET {len(jobs) - failed} objects ({human_size(total)}) from {uri.object_uri(bucket, prefix)} "
          f"=> \"{root}\"" + (f" ({skipped} skipped)" if skipped else ""))
    return 1 if failed else 0


def cmd_cat(args: argparse.Namespace) -> int:
    args.dst = "-"
    return _get_one(args, object_arg(args.src))


# rm --------------------------------------------------------------------------------------------------
def cmd_rm(args: argparse.Namespace) -> int:
    targets = [parse_uri(t) for t in args.targets]
    if args.template is not None or args.list is not None or args.recursive:
        return _rm_many(args, targets)
    failed = 0
    with client(args) as cl:
        for t in targets:
            if not t.key:
                raise UsageError(f"{t}: to delete objects give ais://BUCKET/OBJECT, -r for a directory, "
                                 f"--template or --list (to destroy the bucket: aisfs bucket rm {t})")
            try:
                cl.delete_object(t.bucket, t.key)
            except AisError as e:
                failed += 1
                hint = " (a directory? use rm -r)" if isinstance(e, ObjectNotFound) and t.key.endswith("/") else ""
                warn(e.message + hint)
                continue
            print(f"deleted \"{t}\"")
    return 1 if failed else 0


def _rm_many(args: argparse.Namespace, targets: list[uri.Uri]) -> int:
    """Multi-object delete as one job: by template, by list, or a whole virtual directory (-r)."""
    if args.recursive:
        if args.template is not None or args.list is not None:
            raise UsageError("-r takes a directory (ais://BUCKET/DIR/); it does not combine with --template/--list")
        if len(targets) != 1 or not targets[0].key:
            raise UsageError("rm -r takes one directory: aisfs rm -r ais://BUCKET/DIR/ "
                             "(every object in a bucket: --template '*')")
        bucket, kw = targets[0].bucket, {"template": as_dir_prefix(targets[0].key)}
    else:
        if len(targets) != 1 or targets[0].key:
            raise UsageError("--template and --list take one bucket: aisfs rm ais://BUCKET --template ...")
        if args.template is not None and args.list is not None:
            raise UsageError("give either --template or --list")
        bucket = targets[0].bucket
        if args.list is not None:
            names = [n.strip() for n in args.list.split(",") if n.strip()]
            if not names:
                raise UsageError("--list is empty")
            kw = {"objnames": names}
        else:
            kw = {"template": args.template}
    with client(args) as cl:
        job_id = cl.delete_objects(bucket, **kw)
        return started_job(cl, args, job_id, f"deleting objects from \"{uri.bucket_uri(bucket)}\"")


# parser ----------------------------------------------------------------------------------------------
def add_parser(sub: Any) -> None:
    p = add_command(sub, "ls", help="list buckets, or the objects in a bucket", func=cmd_ls, description="""
        Without a bucket (or with ais://), list buckets. With one, list its objects in S3 order (UTF-8 bytes);
        a key in the URI or --prefix narrows the listing. Sizes are IEC (KiB, MiB) unless --raw.""", examples="""
        aisfs ls
        aisfs ls ais://data
        aisfs ls ais://data/images/ --props name,size,checksum --limit 10
        aisfs ls ais://data --no-recursion
        aisfs ls ais://data --json | jq '.[].name'
        """)
    p.add_argument("target", nargs="?", metavar="ais://BUCKET[/PREFIX]")
    p.add_argument("--prefix", default="", help="only objects whose names start with this")
    p.add_argument("--props", default="", help=f"columns, comma-separated: {','.join(COLUMNS)}, or all")
    p.add_argument("--all-props", "--all", action="store_true", dest="all_props", help="same as --props all")
    p.add_argument("--limit", type=int, default=0, help="list at most this many objects")
    p.add_argument("--page-size", type=int, default=0, help="objects per request (1..10000)")
    p.add_argument("--no-recursion", "--nr", action="store_true", dest="no_recursion",
                   help="fold names at '/' into directories, like 'ls' does")
    p.add_argument("--no-headers", "-H", action="store_true", help="omit the table header")
    p.add_argument("--raw", action="store_true", help="sizes in bytes")
    p.add_argument("--summary", action="store_true", help="(buckets) also count each bucket's objects and bytes")
    add_json_flag(p)

    p = add_command(sub, "put", help="upload a file, a directory (recursively) or stdin", func=cmd_put,
                    description="""
        Upload SRC to DST. A file goes to ais://BUCKET/OBJECT, or keeps its name under ais://BUCKET[/DIR/].
        A directory is uploaded recursively under ais://BUCKET[/PREFIX/], names relative to it. Several
        sources each keep their name under DST (like cp -r). '-' reads stdin (an object name is required).
        Data is streamed, never held in memory.""", examples="""
        aisfs put photo.jpg ais://data/images/photo.jpg
        aisfs put photo.jpg ais://data/images/
        aisfs put ./dataset ais://data/train/ --num-workers 8
        aisfs put *.jpg notes/ ais://data/misc/          # several: each keeps its name under misc/
        tar c dir | aisfs put - ais://data/dir.tar
        """)
    p.add_argument("srcs", nargs="+", metavar="SRC", help="files, directories, or - for stdin")
    p.add_argument("dst", metavar="DST", help="ais://BUCKET[/OBJECT or /PREFIX/]")
    p.add_argument("--recursive", "-r", action="store_true", help="accepted for ais compatibility (directories are "
                                                                  "always recursive)")
    p.add_argument("--content-type", default="", help="Content-Type to store with the object(s)")
    p.add_argument("--meta", default="", metavar="K=V,...", help="custom metadata, e.g. 'owner=me,stage=raw'")
    p.add_argument("--num-workers", type=int, default=DEFAULT_WORKERS, help="parallel uploads for a directory")
    p.add_argument("--dry-run", action="store_true", help="show what would be uploaded")
    p.add_argument("--compute-checksum", action="store_true",
                   help="hash each file first (bucket's checksum type) so the server verifies what it received")
    add_progress_flags(p)

    p = add_command(sub, "get", help="download an object, a directory or a bucket", func=cmd_get, description="""
        Download SRC. One object goes to DST: a file, an existing directory (keeping the object's name), or
        '-' for stdout; without DST, to its name in the current directory. ais://BUCKET, ais://BUCKET/DIR/ or
        --prefix download every matching object into the directory DST (default: .), names relative to
        the prefix's directory. Files appear under their names only when complete.""", examples="""
        aisfs get ais://data/images/photo.jpg
        aisfs get ais://data/images/photo.jpg /tmp/p.jpg
        aisfs get ais://data/dir.tar - | tar x
        aisfs get ais://data/images/ ./images
        aisfs get ais://data/log --offset 1024 --length 100 -
        """)
    p.add_argument("src", metavar="SRC", help="ais://BUCKET/OBJECT, ais://BUCKET/DIR/ or ais://BUCKET")
    p.add_argument("dst", metavar="DST", nargs="?", help="file, directory, or - for stdout")
    p.add_argument("--prefix", default="", help="download every object whose name starts with this")
    p.add_argument("--offset", type=int, default=0, help="read from this byte (one object)")
    p.add_argument("--length", type=int, default=None, help="read this many bytes (one object)")
    p.add_argument("--num-workers", type=int, default=DEFAULT_WORKERS, help="parallel downloads for many objects")
    p.add_argument("--checksum", action="store_true",
                   help="validate the received bytes against the object's stored checksum")
    add_progress_flags(p)

    p = add_command(sub, "cat", help="write an object to stdout", func=cmd_cat, examples="""
        aisfs cat ais://data/notes.txt
        """)
    p.add_argument("src", metavar="ais://BUCKET/OBJECT")
    p.add_argument("--offset", type=int, default=0, help="read from this byte")
    p.add_argument("--length", type=int, default=None, help="read this many bytes")
    p.add_argument("--checksum", action="store_true", help="validate the bytes against the stored checksum "
                                                           "(exit 1 after writing them if they differ)")

    p = add_command(sub, "rm", help="delete objects: by name, a directory (-r), a template or a list",
                    func=cmd_rm, description="""
        Delete the named objects. -r, --template and --list delete many objects in one job (AIStore's
        delete-listrange); --wait follows it to the end. Buckets are destroyed with 'aisfs bucket rm'.""",
                    examples="""
        aisfs rm ais://data/a.txt ais://data/b.txt
        aisfs rm -r ais://data/tmp/ --wait
        aisfs rm ais://data --template 'shard-{0000..0999}.tar' --wait
        aisfs rm ais://data --list 'a.txt,b.txt'
        aisfs rm ais://data --template '*'            # every object
        """)
    p.add_argument("targets", nargs="+", metavar="ais://BUCKET[/OBJECT]")
    p.add_argument("--recursive", "-r", action="store_true", help="delete everything under a virtual directory")
    p.add_argument("--template", help="names like 'prefix-{0..99}.ext', a bare prefix, or '*' for all")
    p.add_argument("--list", help="comma-separated object names")
    add_wait_flags(p)

    p = add_command(sub, "head", aliases=["stat"], help="show an object's metadata (or a bucket's or directory's "
                                                        "summary)", func=cmd_head, description="""
        Show an object's size, checksum, version, ETag, times and custom metadata; exit 1 if it does not
        exist. For a bucket, or a virtual directory (ais://BUCKET/DIR/), show its object count and size.""",
                    examples="""
        aisfs head ais://data/photo.jpg
        aisfs head ais://data/photo.jpg --json
        aisfs head ais://data
        aisfs head ais://data/images/
        """)
    p.add_argument("target", metavar="ais://BUCKET[/OBJECT]")
    p.add_argument("--raw", action="store_true", help="size in bytes")
    add_json_flag(p)
