"""`aisfs` command line: AIStore's verbs and `ais://bucket/key` URIs.

Each command group lives in its own module exposing `add_parser(subparsers)`; the parser it
adds sets `func`, which takes the parsed args and returns an exit code. Errors end here, once:
one line on stderr, exit 1 (2 for usage errors, as argparse does).
"""
from __future__ import annotations

import argparse
import os
import sys

from engine.errors import AisError

from . import cmd_bucket, cmd_config, cmd_job, cmd_object, mount, serve
from .client import DEFAULT_ENDPOINT, ENDPOINT_ENV
from .cmdutil import UsageError

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
DEBUG_ENV = "AISFS_DEBUG"

EPILOG = f"""\
URIs: ais://BUCKET/OBJECT (or BUCKET/OBJECT), ais://BUCKET, ais://BUCKET/DIR/.
Server: --endpoint URL, else ${ENDPOINT_ENV}, else {DEFAULT_ENDPOINT}.

examples:
  aisfs bucket create ais://data
  aisfs put ./photos ais://data/photos/
  aisfs ls ais://data --props name,size,checksum
  aisfs get ais://data/photos/cat.jpg -  > cat.jpg
  aisfs rm -r ais://data/photos/ --wait
  aisfs config set checksum.type=md5

'aisfs COMMAND --help' explains each command, with examples."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aisfs", description="AIStore-style object store: S3 + REST + FUSE.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", metavar="URL", dest="global_endpoint",  # see resolve_globals
                        help=f"server URL (default: ${ENDPOINT_ENV} or {DEFAULT_ENDPOINT})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve.add_parser(sub)
    cmd_bucket.add_parser(sub)
    cmd_object.add_parser(sub)
    cmd_job.add_parser(sub)
    cmd_config.add_parser(sub)
    mount.add_parser(sub)
    return parser


def _oserror_text(e: OSError) -> str:
    if e.strerror and e.filename:
        return f"{e.filename}: {e.strerror}"
    return e.strerror or str(e)


def resolve_globals(args: argparse.Namespace) -> argparse.Namespace:
    """`aisfs --endpoint URL CMD` and `aisfs CMD --endpoint URL` alike: the global flag parses into its own dest,
    so no subcommand's default can overwrite it; the one after the command wins. None: `$AIS_ENDPOINT` decides."""
    args.endpoint = getattr(args, "endpoint", None) or args.global_endpoint
    return args


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = resolve_globals(parser.parse_args(argv))
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"aisfs: {e}", file=sys.stderr)
        return EXIT_USAGE
    except AisError as e:
        print(f"aisfs: {' '.join(e.message.split())}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (`aisfs get ... - | head`): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as e:
        print(f"aisfs: {_oserror_text(e)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug: still one line, the traceback on request
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"aisfs: internal error: {type(e).__name__}: {e} (set {DEBUG_ENV}=1 for a traceback)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
