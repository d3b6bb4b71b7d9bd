"""`aisfs serve`: run the engine with its S3 and REST faces in the foreground."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from typing import TYPE_CHECKING

from engine.errors import AisError, first_error

if TYPE_CHECKING:
    import trio

DEFAULT_DATA_DIR = ".aisfs-data"
DEFAULT_LISTEN = "127.0.0.1:8080"


def worker_count(value: str) -> int:
    """`--workers`: a number of processes, or `auto` for one per CPU this process may run on."""
    if value == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes or 'auto', not {value!r}") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError("the number of processes must be between 1 and 64")
    return n


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve", help="run the object store (S3 + REST) in the foreground",
        description="Open the data directory and serve the S3 API (at / and /s3) and the native REST API "
                    "(/v1) on one HTTP listener. SIGINT/SIGTERM stop it gracefully: in-flight requests "
                    "finish, then the process exits.",
        epilog="example: aisfs serve --data-dir ./data --listen 127.0.0.1:8080 --mountpath /disk1 --mountpath /disk2")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, type=Path,
                   help=f"directory for config, bucket metadata and the index (default: {DEFAULT_DATA_DIR})")
    p.add_argument("--listen", default=DEFAULT_LISTEN,
                   help=f"HOST:PORT to listen on (default: {DEFAULT_LISTEN}, loopback only)")
    p.add_argument("--mountpath", action="append", type=Path, default=None, metavar="DIR",
                   help="a data directory (disk) for object data; repeatable; replaces the default "
                        "DATA_DIR/mpath and is remembered for later starts")
    p.add_argument("--workers", type=worker_count, default=1, metavar="N|auto",
                   help="processes serving HTTP (default: 1). With more, worker processes share the listener "
                        "and serve object GET and HEAD on more cores; everything else goes to the first, "
                        "which owns the data directory. auto: one per CPU")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request-level warning and info")
    p.add_argument("--anonymous", action="store_true",
                   help="allow unsigned S3 requests on a non-loopback address when no S3 keys are configured "
                        "(s3.keys or AISFS_ACCESS_KEY/AISFS_SECRET_KEY)")
    p.set_defaults(func=run)


async def _main(args: argparse.Namespace) -> None:
    import trio

    from engine import Engine
    from engine.http.app import serve as serve_http

    async with Engine.open(args.data_dir, args.mountpath) as engine:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signals, stop)
            host, port = await nursery.start(lambda task_status: serve_http(
                engine, args.listen, stop=stop, anonymous=args.anonymous, workers=args.workers,
                task_status=task_status))
            more = f", {args.workers} processes" if args.workers > 1 else ""
            print(f"aisfs: serving S3 and REST on http://{host}:{port} (data in {engine.data_dir}{more})",
                  file=sys.stderr, flush=True)


async def _stop_on_signals(stop: "trio.Event") -> None:
    import trio

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            stop.set()
            return


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import trio

    try:
        trio.run(_main, args)
    except BaseException as e:  # report the first real cause in one line
        cause = first_error(e)
        if isinstance(cause, AisError):
            print(f"aisfs: {cause.message}", file=sys.stderr)
            return 1
        if isinstance(cause, OSError):
            where = cause.filename or f"cannot serve on {args.listen}"  # a bad data dir/mountpath is not the listener's fault
            print(f"aisfs: {where}: {cause.strerror or cause}", file=sys.stderr)
            return 1
        raise
    return 0
