"""`aisfs` command line: AIStore's verbs and `ais://bucket/key` URIs.

Each command group lives in its own module exposing `add_parser(subparsers)`; the parser it
adds sets `func`, which takes the parsed args and returns an exit code.
"""
from __future__ import annotations

import argparse
import sys

from . import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aisfs", description="AIStore-style object store: S3 + REST + FUSE.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
