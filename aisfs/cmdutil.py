"""What every `aisfs` command shares: the endpoint flag, the client, output formats, `k=v` settings,
progress bars and waiting for jobs."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence, TextIO

from engine.dotted import flatten
from engine.errors import BadRequest

from . import uri
from .client import DEFAULT_ENDPOINT, ENDPOINT_ENV, Client

PROGRESS_MIN_BYTES = 8 << 20   # on a terminal, transfers this large get a bar without --progress
PROGRESS_MIN_FILES = 100       # ... and so do this many files


class UsageError(Exception):
    """A command line that parses but makes no sense; exits 2 like argparse's own errors."""


# Parsers -----------------------------------------------------------------------------------------
def endpoint_parent() -> argparse.ArgumentParser:
    """`--endpoint`, accepted after any command too (`aisfs ls ais://b --endpoint URL`)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--endpoint", metavar="URL", default=argparse.SUPPRESS,
                   help=f"server URL (default: ${ENDPOINT_ENV} or {DEFAULT_ENDPOINT})")
    return p


def add_command(sub: Any, name: str, *, help: str, description: str = "", examples: str = "",
                aliases: Sequence[str] = (), func: Callable[[argparse.Namespace], int] | None = None,
                endpoint: bool = True) -> argparse.ArgumentParser:
    """A subcommand whose --help shows its description and examples verbatim."""
    epilog = "examples:\n" + textwrap.indent(textwrap.dedent(examples).strip("\n"), "  ") if examples else None
    p = sub.add_parser(name, help=help, aliases=list(aliases), description=textwrap.dedent(description or help).strip(),
                       epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
                       parents=[endpoint_parent()] if endpoint else [])
    if func is not None:
        p.set_defaults(func=func)
    return p


def add_group(sub: Any, name: str, *, help: str, description: str = "", examples: str = "",
              aliases: Sequence[str] = ()) -> Any:
    """A command group (`bucket`, `job`, ...) whose subcommands are required."""
    p = add_command(sub, name, help=help, description=description, examples=examples, aliases=aliases,
                    endpoint=False)
    return p.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


def add_json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", "-J", action="store_true", help="print JSON (for scripts)")


def add_wait_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="wait for the job to finish, showing its progress")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="with --wait: give up waiting after this long")
    add_progress_flags(p)


def parse_uri(text: str, *, allow_empty: bool = False) -> uri.Uri:
    """A URI argument; a malformed one is a usage error (exit 2), not a server error."""
    try:
        return uri.parse(text, allow_empty=allow_empty)
    except BadRequest as e:
        raise UsageError(e.message) from None


def client(args: argparse.Namespace) -> Client:
    return Client(getattr(args, "endpoint", None))


# Settings given as `k=v` words or JSON ---------------------------------------------------------------
def parse_settings(words: Sequence[str]) -> dict[str, Any]:
    """`checksum.type=md5 mirror.enabled=false`, one JSON object, or `KEY VALUE` as one pair.

    Words may also be one quoted string of several `k=v` (AIStore's `--props 'k=v k2=v2'`).
    """
    text = " ".join(words).strip()
    if not text:
        raise UsageError("no settings given (expected KEY=VALUE ... or a JSON object)")
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise UsageError(f"invalid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise UsageError("expected a JSON object")
        return doc
    tokens = [t for w in words for t in shlex.split(w)]
    if len(tokens) == 2 and "=" not in tokens[0]:
        return {tokens[0]: tokens[1]}
    out: dict[str, Any] = {}
    for t in tokens:
        k, sep, v = t.partition("=")
        if not sep or not k:
            raise UsageError(f"expected KEY=VALUE, got {t!r}")
        out[k] = v
    return out


def dotted_subset(doc: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """The settings of `doc` that `updates` (dotted or nested) touched, as dotted keys."""
    flat, keys = flatten(doc), flatten(updates)
    return {k: v for k, v in flat.items() if any(k == u or k.startswith(u + ".") for u in keys)}


def show_settings(doc: dict[str, Any], key_filter: str = "", *, as_json: bool, out: TextIO | None = None) -> None:
    """Props or config: the whole document, or the keys under `key_filter` (`checksum`, `checksum.type`)."""
    out = out or sys.stdout
    flat = flatten(doc)
    if key_filter:
        flat = {k: v for k, v in flat.items() if k == key_filter or k.startswith(key_filter + ".")}
        if not flat:
            raise BadRequest(f"no setting matches {key_filter!r}")
    if as_json:
        if key_filter:
            print_json(flat, out)
        else:
            print_json(doc, out)
        return
    table(["PROPERTY", "VALUE"], [[k, _setting_str(v)] for k, v in sorted(flat.items())], out)


def _setting_str(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (dict, list)):
        return json.dumps(v) if v else "-"
    return "-" if v == "" else str(v)


# Output ------------------------------------------------------------------------------------------------
def print_json(doc: Any, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def table(header: Sequence[str] | None, rows: Iterable[Sequence[str]], out: TextIO | None = None,
          widths: list[int] | None = None) -> list[int]:
    """Left-aligned columns, AIStore-CLI style; `header=None` prints rows only. Returns the column
    widths, which a caller printing a long table in batches passes back in to keep columns steady."""
    out = out or sys.stdout
    allrows = ([list(header)] if header else []) + [list(map(str, r)) for r in rows]
    if not allrows:
        return widths or []
    widths = [max([w] + [len(r[i]) for r in allrows]) for i, w in enumerate(widths or [0] * len(allrows[0]))]
    for r in allrows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + ("  " if len(r) > 1 else "") + r[-1] + "\n")
    return widths


def human_size(n: int | None) -> str:
    """AIStore's IEC sizes: `12B`, `1.50KiB`, `3.00GiB`."""
    if n is None or n < 0:
        return "-"
    if n < 1024:
        return f"{n}B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        value /= 1024
        if value < 1024 or unit == "EiB":
            return f"{value:.2f}{unit}"
    return f"{n}B"


def ns_time(ns: int) -> str:
    """Unix ns as a local-independent UTC time, `-` for 0."""
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def warn(msg: str) -> None:
    print(f"aisfs: {msg}", file=sys.stderr)


# Progress ------------------------------------------------------------------------------------------------
def add_progress_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", action="store_true", help="always show a progress bar (on stderr)")
    g.add_argument("--no-progress", "-q", action="store_true", dest="no_progress",
                   help="never show a progress bar")


class Progress:
    """A thread-safe tqdm counter on stderr: shown when asked (--progress), or on a terminal for long
    transfers (`long`, or a size learned later through `set_total`); never with --no-progress."""

    def __init__(self, args: argparse.Namespace, total: int | None, desc: str, *, unit: str = "B",
                 long: bool = False) -> None:
        self._lock = threading.Lock()
        self._bar: Any = None
        self._desc, self._unit = desc, unit
        self._auto = not getattr(args, "no_progress", False) and sys.stderr.isatty()
        if getattr(args, "progress", False) or (long and self._auto):
            self._open(total)

    def _open(self, total: int | None) -> None:
        from tqdm import tqdm
        byte_unit = self._unit == "B"
        self._bar = tqdm(total=total, desc=self._desc, unit=self._unit, unit_scale=byte_unit,
                         unit_divisor=1024 if byte_unit else 1000, file=sys.stderr, leave=True,
                         dynamic_ncols=True, mininterval=0.2)

    def set_total(self, total: int) -> None:
        """For transfers whose size is known only once they start (a GET's Content-Length)."""
        if total < 0:  # unknown after all (no Content-Length)
            return
        with self._lock:
            if self._bar is None and self._auto and total >= PROGRESS_MIN_BYTES:
                self._open(total)
            elif self._bar is not None:
                self._bar.total = total
                self._bar.refresh()

    def update(self, n: int) -> None:
        if self._bar is not None:
            with self._lock:
                self._bar.update(n)

    def set(self, n: int, total: int | None = None) -> None:
        if self._bar is not None:
            with self._lock:
                if total is not None and total > 0 and self._bar.total != total:
                    self._bar.total = total
                self._bar.update(n - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# Jobs ---------------------------------------------------------------------------------------------------
def job_state(job: dict[str, Any]) -> str:
    if job.get("running"):
        return "running"
    if job.get("aborted"):
        return "aborted"
    return "failed" if job.get("err_count") else "finished"


def job_summary(job: dict[str, Any]) -> str:
    took = (job.get("end_time") or time.time_ns()) - job.get("start_time", 0)
    line = (f"job {job['id']} ({job.get('kind', '')}) {job_state(job)}: {job.get('objs', 0)} objects, "
            f"{human_size(job.get('bytes', 0))} in {took / 1e9:.2f}s")
    if job.get("err_count"):
        line += f", {job['err_count']} error(s)"
    return line


def wait_for_job(cl: Client, args: argparse.Namespace, job_id: str) -> int:
    """Wait for a job with a progress bar (objects done of total); exit code 0 only if it succeeded."""
    with Progress(args, None, job_id, unit="obj", long=True) as bar:
        def on_progress(job: dict[str, Any]) -> None:
            total = job.get("total", -1)
            bar.set(int(job.get("objs", 0)), total if total and total > 0 else None)
        job = cl.wait_job(job_id, getattr(args, "timeout", None), poll=1.0, on_progress=on_progress)
    if job.get("running"):
        warn(f"job {job_id} is still running after {args.timeout:g}s")
        return 1
    for err in job.get("errors") or []:
        warn(f"{job_id}: {err}")
    print(job_summary(job))
    return 0 if job_state(job) == "finished" else 1


def started_job(cl: Client, args: argparse.Namespace, job_id: str, what: str) -> int:
    """After starting a job: wait for it (`--wait`) or say how to follow it, as `ais` does."""
    if getattr(args, "wait", False):
        print(f"{what}: job {job_id}")
        return wait_for_job(cl, args, job_id)
    print(f"{what}: job {job_id}. To wait for it: aisfs job wait {job_id}")
    return 0
