"""`aisfs bucket ...`: create, destroy, rename, copy, list buckets and show or change their props."""
from __future__ import annotations

import argparse
from typing import Any

from engine.errors import BucketAlreadyExists, BucketNotFound

from . import uri
from .cmdutil import (UsageError, add_command, add_group, add_json_flag, add_wait_flags, client, dotted_subset,
                      human_size, ns_time, parse_settings, parse_uri, print_json, show_settings, started_job, table,
                      warn)


def bucket_arg(text: str) -> str:
    """A bucket-only argument: `ais://b`, `ais://b/` or `b`."""
    u = parse_uri(text)
    if u.key:
        raise UsageError(f"{text!r}: expected a bucket (ais://BUCKET), not an object")
    return u.bucket


# create / rm ---------------------------------------------------------------------------------------
def cmd_create(args: argparse.Namespace) -> int:
    props = parse_settings([args.props]) if args.props else None
    names = [bucket_arg(b) for b in args.buckets]
    with client(args) as cl:
        for name in names:
            try:
                cl.create_bucket(name, props)
            except BucketAlreadyExists as e:
                if not args.ignore_error:
                    raise
                warn(e.message)
                continue
            print(f"\"{uri.bucket_uri(name)}\" created")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    names = [bucket_arg(b) for b in args.buckets]
    with client(args) as cl:
        for name in names:
            try:
                cl.destroy_bucket(name)
            except BucketNotFound as e:
                if not args.ignore_error:
                    raise
                warn(e.message)
                continue
            print(f"\"{uri.bucket_uri(name)}\" destroyed")
    return 0


# mv / cp ---------------------------------------------------------------------------------------------
def cmd_mv(args: argparse.Namespace) -> int:
    src, dst = bucket_arg(args.src), bucket_arg(args.dst)
    with client(args) as cl:
        job_id = cl.move_bucket(src, dst)
        return started_job(cl, args, job_id, f"renaming \"{uri.bucket_uri(src)}\" => \"{uri.bucket_uri(dst)}\"")


def cmd_cp(args: argparse.Namespace) -> int:
    src, dst = bucket_arg(args.src), bucket_arg(args.dst)
    with client(args) as cl:
        job_id = cl.copy_bucket(src, dst, prefix=args.prefix, dry_run=args.dry_run)
        what = f"copying \"{uri.bucket_uri(src)}\" => \"{uri.bucket_uri(dst)}\"" + (" (dry run)" if args.dry_run else "")
        return started_job(cl, args, job_id, what)


# ls / summary -----------------------------------------------------------------------------------------
def list_buckets(args: argparse.Namespace) -> int:
    """Shared by `aisfs bucket ls` and `aisfs ls` without a bucket."""
    with client(args) as cl:
        buckets = cl.list_buckets()
        if getattr(args, "summary", False):
            for b in buckets:
                s = cl.bucket_summary(b["name"])
                b.update(objects=s.get("objects", 0), size=s.get("size", 0))
    if args.json:
        print_json(buckets)
        return 0
    if not buckets:
        print("No buckets.")
        return 0
    summary = getattr(args, "summary", False)
    header = ["NAME", "CREATED"] + (["OBJECTS", "SIZE"] if summary else [])
    rows = []
    for b in buckets:
        row = [uri.bucket_uri(b["name"]), _created(b.get("created", ""))]
        if summary:
            row += [str(b["objects"]), human_size(b["size"])]
        rows.append(row)
    table(None if getattr(args, "no_headers", False) else header, rows)
    return 0


def _created(value: Any) -> str:
    s = str(value)
    return ns_time(int(s)) if s.isdigit() else (s or "-")


def cmd_mirror(args: argparse.Namespace) -> int:
    bucket = bucket_arg(args.bucket)
    with client(args) as cl:  # the engine says what a valid count is, once for every face
        job_id = cl.make_n_copies(bucket, args.copies)
        return started_job(cl, args, job_id, f"making {args.copies} copies of \"{uri.bucket_uri(bucket)}\"")


def cmd_ls(args: argparse.Namespace) -> int:
    if args.bucket not in (None, "", "ais://"):
        raise UsageError("'aisfs bucket ls' lists buckets; to list objects use 'aisfs ls ais://BUCKET'")
    return list_buckets(args)


def cmd_summary(args: argparse.Namespace) -> int:
    names = [bucket_arg(b) for b in args.buckets]
    with client(args) as cl:
        if not names:
            names = [b["name"] for b in cl.list_buckets()]
        out = [cl.bucket_summary(n) for n in names]
    if args.json:
        print_json(out)
    else:
        table(["NAME", "OBJECTS", "SIZE"], [[uri.bucket_uri(s["name"]), str(s["objects"]), human_size(s["size"])]
                                           for s in out])
    return 0


# props -----------------------------------------------------------------------------------------------
def cmd_props_show(args: argparse.Namespace) -> int:
    name = bucket_arg(args.bucket)
    with client(args) as cl:
        props = cl.head_bucket(name)
    show_settings(props, args.prop or "", as_json=args.json)
    return 0


def cmd_props_set(args: argparse.Namespace) -> int:
    name = bucket_arg(args.bucket)
    updates = parse_settings(args.settings)
    with client(args) as cl:
        props = cl.set_bucket_props(name, updates)
    print(f"\"{uri.bucket_uri(name)}\": props updated")
    show_settings(dotted_subset(props, updates), as_json=False)
    return 0


def cmd_props_reset(args: argparse.Namespace) -> int:
    name = bucket_arg(args.bucket)
    with client(args) as cl:
        cl.reset_bucket_props(name)
    print(f"\"{uri.bucket_uri(name)}\": props reset to the cluster's defaults")
    return 0


# parser ----------------------------------------------------------------------------------------------
def add_parser(sub: Any) -> None:
    g = add_group(sub, "bucket", help="create, destroy, rename, copy and list buckets; show and set their props",
                  examples="""
                    aisfs bucket create ais://data --props 'checksum.type=md5'
                    aisfs bucket ls
                    aisfs bucket props show ais://data checksum
                    aisfs bucket mv ais://data ais://data2
                  """)

    p = add_command(g, "create", help="create buckets", func=cmd_create, description="""
        Create one or more buckets. --props takes KEY=VALUE words (dotted keys) or a JSON object,
        as AIStore's `ais create` does; unset props are inherited from the cluster config.""", examples="""
        aisfs bucket create ais://abc
        aisfs bucket create ais://abc --props 'checksum.type=md5 versioning.enabled=false'
        aisfs bucket create ais://abc --props '{"checksum": {"type": "sha256"}, "access": "ro"}'
        """)
    p.add_argument("buckets", nargs="+", metavar="BUCKET")
    p.add_argument("--props", metavar="PROPS", help="'k=v k2=v2' or a JSON object")
    p.add_argument("--ignore-error", action="store_true", help="warn instead of failing when a bucket exists")

    p = add_command(g, "rm", aliases=["destroy"], help="destroy buckets and all their objects", func=cmd_rm,
                    examples="""
                      aisfs bucket rm ais://abc
                      aisfs bucket rm ais://abc ais://def --ignore-error
                    """)
    p.add_argument("buckets", nargs="+", metavar="BUCKET")
    p.add_argument("--ignore-error", action="store_true", help="warn instead of failing when a bucket is missing")

    p = add_command(g, "mv", help="rename a bucket (a job)", func=cmd_mv, examples="""
        aisfs bucket mv ais://old ais://new --wait
        """)
    p.add_argument("src", metavar="SRC_BUCKET")
    p.add_argument("dst", metavar="DST_BUCKET")
    add_wait_flags(p)

    p = add_command(g, "cp", help="copy a bucket's objects into another bucket (a job)", func=cmd_cp,
                    description="""
        Copy every object (or those under --prefix) into DST_BUCKET, which is created with the source's
        props when it does not exist. Runs as a job: --wait follows it to the end.""", examples="""
        aisfs bucket cp ais://src ais://dst --wait
        aisfs bucket cp ais://src ais://dst --prefix images/ --dry-run --wait
        """)
    p.add_argument("src", metavar="SRC_BUCKET")
    p.add_argument("dst", metavar="DST_BUCKET")
    p.add_argument("--prefix", default="", help="copy only objects whose names start with this")
    p.add_argument("--dry-run", action="store_true", help="count what would be copied, copy nothing")
    add_wait_flags(p)

    p = add_command(g, "mirror", help="keep N copies of every object, each on a different mountpath",
                    func=cmd_mirror, description="""
        N-way mirror (AIStore's make-n-copies): from now on every write to the bucket keeps --copies
        copies, each on a different mountpath (disk), and a job adds or removes copies of the objects it
        already holds. Reads then survive a lost disk or a damaged copy. --copies 1 turns mirroring off.
        Needs at least as many mountpaths as copies.""", examples="""
        aisfs bucket mirror ais://abc --wait
        aisfs bucket mirror ais://abc --copies 3
        aisfs bucket mirror ais://abc --copies 1
        """)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--copies", type=int, default=2, metavar="N",
                   help="copies of each object (default: 2, AIStore's; 1 turns mirroring off)")
    add_wait_flags(p)

    p = add_command(g, "ls", aliases=["list"], help="list buckets", func=cmd_ls, examples="""
        aisfs bucket ls
        aisfs bucket ls --summary
        aisfs bucket ls --json
        """)
    p.add_argument("bucket", nargs="?", metavar="ais://", help=argparse.SUPPRESS)
    p.add_argument("--summary", action="store_true", help="also count each bucket's objects and bytes")
    p.add_argument("--no-headers", "-H", action="store_true", help="omit the table header")
    add_json_flag(p)

    p = add_command(g, "summary", help="object count and total size of buckets", func=cmd_summary, examples="""
        aisfs bucket summary ais://abc
        """)
    p.add_argument("buckets", nargs="*", metavar="BUCKET", help="default: every bucket")
    add_json_flag(p)

    props = add_group(g, "props", help="show, set or reset a bucket's props", examples="""
        aisfs bucket props show ais://abc
        aisfs bucket props set ais://abc checksum.type=md5
        aisfs bucket props reset ais://abc
        """)
    p = add_command(props, "show", help="show a bucket's props", func=cmd_props_show, examples="""
        aisfs bucket props show ais://abc
        aisfs bucket props show ais://abc checksum --json
        """)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("prop", nargs="?", metavar="PROP", help="show only this prop or section (e.g. checksum.type)")
    add_json_flag(p)

    p = add_command(props, "set", help="change some of a bucket's props", func=cmd_props_set, examples="""
        aisfs bucket props set ais://abc checksum.type=md5 versioning.enabled=false
        aisfs bucket props set ais://abc access ro
        aisfs bucket props set ais://abc '{"checksum": {"type": "sha256"}}'
        """)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("settings", nargs="+", metavar="KEY=VALUE", help="dotted KEY=VALUE words, or a JSON object")

    p = add_command(props, "reset", help="reset a bucket's props to the cluster's defaults", func=cmd_props_reset,
                    examples="""
                      aisfs bucket props reset ais://abc
                    """)
    p.add_argument("bucket", metavar="BUCKET")
