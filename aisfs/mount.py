"""`aisfs mount` and `aisfs umount`: the FUSE face's command line (docs/mount.md)."""
from __future__ import annotations

import argparse
import errno
import logging
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from engine.errors import AisError, first_error

from .client import ENDPOINT_ENV
from .serve import worker_count

DATA_DIR_ENV = "AISFS_DATA_DIR"
DEFAULT_TTL = 1.0
ML_PRESET = {"ttl": "indefinite", "read_only": True, "readahead_kb": 16384}
DAEMON_START_SECONDS = 60.0
FUSECTL = "/sys/fs/fuse/connections"
PROBE_SECONDS = 3.0  # a mount that does not answer a stat in this long is hung


def _mode(s: str) -> int:
    return int(s, 8)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("mount", help="mount a bucket (or every bucket) as a directory",
                       description="Mount BUCKET[/PREFIX] (or, without it, every bucket as a top-level "
                                   "directory) at MOUNTPOINT. Embedded mode (--data-dir) runs the engine in "
                                   "this process; remote mode (--endpoint) talks to a server over /v1.")
    p.add_argument("mountpoint", type=Path)
    p.add_argument("source", nargs="?", default="", help="BUCKET[/PREFIX], also as ais://BUCKET/PREFIX")
    p.add_argument("--data-dir", type=Path, default=None,
                   help=f"embedded mode (the default): the engine's data directory (env {DATA_DIR_ENV}, "
                        "else .aisfs-data as for `aisfs serve`); in remote mode, where staging files go")
    p.add_argument("--endpoint", default=argparse.SUPPRESS,  # keeps `aisfs --endpoint URL mount ...` too
                   help=f"remote mode: URL of a running aisfs/AIStore server (also ${ENDPOINT_ENV} when "
                        "neither --data-dir nor --serve is given)")
    p.add_argument("--serve", metavar="ADDR", help="embedded mode: also serve S3 + REST on ADDR (host:port)")
    p.add_argument("--workers", type=worker_count, default=1, metavar="N|auto",
                   help="with --serve: processes serving HTTP, as `aisfs serve --workers` (default: 1)")
    p.add_argument("-f", "--foreground", action="store_true", help="stay in the foreground (default: daemonize "
                                                                   "once the mount works)")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--uid", type=int, help="owner of objects without stored ownership (default: yours)")
    p.add_argument("--gid", type=int)
    p.add_argument("--file-mode", type=_mode, default=0o644, help="octal, for objects without a stored mode")
    p.add_argument("--dir-mode", type=_mode, default=0o755, help="octal, for directories without a stored mode")
    p.add_argument("--allow-other", action="store_true", help="let other users access the mount")
    p.add_argument("--metadata-ttl", default=None, metavar="SECONDS|indefinite",
                   help=f"how long the kernel may cache names and attributes (default {DEFAULT_TTL:g})")
    p.add_argument("--preset", choices=["ml"], help="ml: read-only, indefinite metadata TTL, 16 MiB readahead")
    p.add_argument("--readahead-kb", type=int, default=None, help="kernel readahead for the mount (default 4096)")
    p.add_argument("--create-bucket", action="store_true", help="create BUCKET if it does not exist")
    p.add_argument("--direct-io", action="store_true", help="reads bypass the kernel page cache (large streaming "
                                                            "reads read once, e.g. training data)")
    p.add_argument("--log-file", type=Path, help="daemon log (default: stderr in the foreground, DATA_DIR/fuse-mount.log "
                                                 "in the background)")
    p.add_argument("--debug", action="store_true")
    p.add_argument("-o", dest="options", action="append", default=[], metavar="OPT[,OPT...]",
                   help="mount(8)-style options: ro, allow_other, uid=, gid=, file_mode=, dir_mode=, "
                        "data_dir=, endpoint=, metadata_ttl=, preset=, serve=, create_bucket; others go to FUSE")
    p.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_mount)

    u = sub.add_parser("umount", help="unmount an aisfs mount (also one whose daemon died or hangs)")
    u.add_argument("mountpoint", type=Path)
    u.add_argument("--lazy", action="store_true", help="detach even if busy (the daemon exits once files close)")
    u.add_argument("--force", action="store_true",
                   help="for a daemon that no longer answers: abort its FUSE connection (every process waiting "
                        "on the mount gets an error; writes not yet closed are lost), then detach")
    u.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the daemon to finish uploads")
    u.set_defaults(func=cmd_umount)


# mount ------------------------------------------------------------------------------------------------
def _apply_o(args: argparse.Namespace) -> list[str]:
    """Fold `-o a,b=c` into the parsed flags; what we do not know is passed to FUSE."""
    fuse_opts: list[str] = []
    for group in args.options:
        for opt in filter(None, (o.strip() for o in group.split(","))):
            name, _, value = opt.partition("=")
            name = name.replace("-", "_")
            if name == "ro":
                args.read_only = True
            elif name in ("rw", "defaults", "auto", "noauto", "user", "nouser", "_netdev", "nofail", "dev", "suid",
                          "exec", "nodev", "nosuid", "noexec", "async", "atime", "noatime", "relatime"):
                continue
            elif name in ("allow_other", "create_bucket", "foreground", "debug", "direct_io"):
                setattr(args, name, True)
            elif name in ("uid", "gid", "readahead_kb"):
                setattr(args, name, int(value))
            elif name in ("file_mode", "dir_mode"):
                setattr(args, name, int(value, 8))
            elif name in ("data_dir", "log_file"):
                setattr(args, name, Path(value))
            elif name in ("endpoint", "metadata_ttl", "preset", "serve"):
                setattr(args, name, value)
            elif name == "workers":
                try:
                    args.workers = worker_count(value)
                except argparse.ArgumentTypeError as e:
                    raise SystemExit(f"aisfs mount: -o workers: {e}") from None
            else:
                fuse_opts.append(opt)
    return fuse_opts


def _parse_ttl(value: str) -> float:
    from .fuse.daemon import INDEFINITE_TTL

    if value in ("indefinite", "inf", "-1"):
        return INDEFINITE_TTL
    ttl = float(value)
    if ttl < 0:
        raise SystemExit("aisfs mount: --metadata-ttl must be >= 0 or 'indefinite'")
    return ttl


def _choose_mode(args: argparse.Namespace) -> None:
    """Remote or embedded: `--endpoint` (global, local or -o), then `--data-dir`, then $AIS_ENDPOINT as for every
    command, then $AISFS_DATA_DIR or the data dir `aisfs serve` opens. A remote mount stages under the data dir."""
    if not args.endpoint and args.data_dir is None and not args.serve:
        args.endpoint = os.environ.get(ENDPOINT_ENV) or None
    if args.data_dir is None and os.environ.get(DATA_DIR_ENV):
        args.data_dir = Path(os.environ[DATA_DIR_ENV])
    if not args.endpoint and args.data_dir is None:
        from .serve import DEFAULT_DATA_DIR

        args.data_dir = Path(DEFAULT_DATA_DIR)


def _source(text: str) -> tuple[str | None, str]:
    """BUCKET[/PREFIX] (also ais://...; empty or `ais://` for every bucket) by the CLI's one URI parser."""
    from engine.errors import BadRequest

    from .uri import parse

    try:
        src = parse(text, allow_empty=True)
    except BadRequest as e:
        raise SystemExit(f"aisfs mount: {e.message}") from None
    return src.bucket or None, src.key.strip("/")


def _config(args: argparse.Namespace) -> Any:
    from .fuse.daemon import MountConfig

    args.endpoint = getattr(args, "endpoint", None)
    extra = _apply_o(args)
    if args.preset == "ml":
        args.read_only = True
        args.metadata_ttl = args.metadata_ttl or ML_PRESET["ttl"]
        args.readahead_kb = args.readahead_kb or ML_PRESET["readahead_kb"]
    _choose_mode(args)
    if args.endpoint and args.serve:
        raise SystemExit("aisfs mount: --serve needs embedded mode (--data-dir), not --endpoint")
    if args.workers > 1 and not args.serve:
        raise SystemExit("aisfs mount: --workers is for the S3 + REST endpoint: it needs --serve")
    bucket, prefix = _source(args.source)
    mnt = args.mountpoint.resolve()
    if not mnt.is_dir():
        raise SystemExit(f"aisfs mount: mount point {args.mountpoint} is not a directory")
    from .fuse.daemon import mount_type

    if mount_type(mnt) == "fuse.aisfs":
        raise SystemExit(f"aisfs mount: {mnt} is already an aisfs mount (aisfs umount {mnt} first)")
    return MountConfig(mountpoint=mnt, bucket=bucket, prefix=prefix,
                       data_dir=args.data_dir.resolve() if args.data_dir else None, endpoint=args.endpoint,
                       serve=args.serve, workers=args.workers, read_only=args.read_only,
                       allow_other=args.allow_other, uid=args.uid, gid=args.gid, file_mode=args.file_mode, dir_mode=args.dir_mode,
                       ttl=_parse_ttl(args.metadata_ttl) if args.metadata_ttl else DEFAULT_TTL,
                       readahead_kb=args.readahead_kb or 4096, create_bucket=args.create_bucket,
                       direct_io=args.direct_io, extra_options=extra)


def cmd_mount(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if not args.foreground:
        return _daemonize(args, cfg)
    return _run_foreground(args, cfg)


def _daemon_argv(args: argparse.Namespace, cfg: Any) -> list[str]:
    """The daemon's command line, from the parsed config: absolute paths, so it may run from `/`."""
    src = f"{cfg.bucket}/{cfg.prefix}".rstrip("/") if cfg.bucket else ""
    argv = ["mount", str(cfg.mountpoint), *([src] if src else []), "--foreground",
            "--file-mode", f"{cfg.file_mode:o}", "--dir-mode", f"{cfg.dir_mode:o}",
            "--metadata-ttl", repr(cfg.ttl), "--readahead-kb", str(cfg.readahead_kb)]
    if cfg.workers > 1:
        argv += ["--workers", str(cfg.workers)]
    for flag, value in (("--data-dir", cfg.data_dir), ("--endpoint", cfg.endpoint), ("--serve", cfg.serve),
                        ("--uid", cfg.uid), ("--gid", cfg.gid), ("--log-file", args.log_file)):
        if value is not None:
            argv += [flag, str(Path(value).resolve()) if isinstance(value, Path) else str(value)]
    for flag, on in (("--read-only", cfg.read_only), ("--allow-other", cfg.allow_other),
                     ("--create-bucket", cfg.create_bucket), ("--direct-io", cfg.direct_io), ("--debug", args.debug)):
        if on:
            argv.append(flag)
    if cfg.extra_options:
        argv += ["-o", ",".join(cfg.extra_options)]
    return argv


def _run_foreground(args: argparse.Namespace, cfg: Any) -> int:
    import trio

    from .fuse.daemon import run

    handlers: list[logging.Handler] = [logging.FileHandler(args.log_file) if args.log_file
                                       else logging.StreamHandler(sys.stderr)]
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO if args.log_file else logging.WARNING,
                        handlers=handlers, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ready_fd = args.ready_fd

    def ready(err: str | None) -> None:
        nonlocal ready_fd
        if err is None and ready_fd is None:
            print(mounted_line(cfg), file=sys.stderr, flush=True)
        if ready_fd is not None:
            os.write(ready_fd, (f"{err}\n" if err else "ready\n").encode())
            os.close(ready_fd)
            ready_fd = None

    try:
        trio.run(run, cfg, ready)
    except BaseException as e:
        cause = first_error(e)
        if isinstance(cause, KeyboardInterrupt):
            ready("interrupted")
            return 130
        from .fuse.daemon import MountError

        if isinstance(cause, AisError):
            msg = cause.message
        elif isinstance(cause, (MountError, OSError, RuntimeError)):
            msg = str(cause)
        else:
            logging.getLogger("aisfs.fuse").error("mount failed", exc_info=e)
            msg = f"{type(cause).__name__}: {cause}"
        ready(msg)
        print(f"aisfs mount: {msg}", file=sys.stderr)
        return 1
    return 0


def mounted_line(cfg: Any) -> str:
    """The one line that tells a user where the mount (and, with --serve, the endpoints) are."""
    what = f"ais://{cfg.bucket}/{cfg.prefix}" if cfg.bucket else "every bucket"
    line = f"aisfs: {what} mounted at {cfg.mountpoint}"
    if cfg.serve:
        line += f"; S3 and REST on http://{cfg.serve}"
    return line + f" (stop: aisfs umount {cfg.mountpoint})"


def _daemonize(args: argparse.Namespace, cfg: Any) -> int:
    """Start the daemon as a new session and return only once the mount answers (or report why not)."""
    if not args.log_file and cfg.data_dir and not cfg.endpoint:
        args.log_file = cfg.data_dir / "fuse-mount.log"  # a daemon's problems must go somewhere
        args.log_file.parent.mkdir(parents=True, exist_ok=True)
    r, w = os.pipe()
    cmd = [sys.executable, "-m", "aisfs", *_daemon_argv(args, cfg), "--ready-fd", str(w)]
    out = open(args.log_file, "ab") if args.log_file else subprocess.DEVNULL
    try:
        root = str(Path(__file__).resolve().parent.parent)  # this very aisfs, wherever it is installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                pass_fds=(w,), start_new_session=True, cwd="/", env=env)
    finally:
        os.close(w)
        if out is not subprocess.DEVNULL:
            out.close()  # type: ignore[union-attr]
    try:
        deadline = time.monotonic() + DAEMON_START_SECONDS
        buf = b""
        while time.monotonic() < deadline:
            rl, _, _ = select.select([r], [], [], 0.2)
            if rl:
                chunk = os.read(r, 4096)
                if not chunk:
                    break
                buf += chunk
                if buf.endswith(b"\n"):
                    break
        msg = buf.decode(errors="replace").strip()
    finally:
        os.close(r)
    if msg == "ready":
        print(mounted_line(cfg), file=sys.stderr, flush=True)
        return 0
    if not msg:
        try:
            msg = f"the daemon exited with status {proc.wait(5)}"
        except subprocess.TimeoutExpired:
            proc.terminate()
            msg = "timed out waiting for the mount"
        if args.log_file:
            msg += f" (see {args.log_file})"
    print(f"aisfs mount: {msg}", file=sys.stderr)
    return 1


# umount -----------------------------------------------------------------------------------------------
def cmd_umount(args: argparse.Namespace) -> int:
    """Unmount; a mount whose daemon died ("Transport endpoint is not connected") is detached lazily,
    one whose daemon hangs only with --force (its connection is aborted first)."""
    from .fuse.daemon import mount_device, mount_type, pid_file

    mnt = _resolve_mountpoint(args.mountpoint)
    kind = mount_type(mnt)
    if kind != "fuse.aisfs":  # never unmount someone else's file system
        what = f"a {kind} mount" if kind else "not mounted"
        print(f"aisfs umount: {mnt} is {what}, not an aisfs mount", file=sys.stderr)
        return 1
    pidf = pid_file(mnt)
    try:
        pid = int(pidf.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if args.force:
        if not _abort_connection(mount_device(mnt)):
            return 1
        pid = None  # the daemon sees its connection end and exits on its own, if it still runs at all
    # never a tool that looks at the mountpoint itself first: on a hung daemon that look never returns
    ok = _run_quiet(["fusermount3", "-u", str(mnt)]) or _run_quiet(["umount", "--no-canonicalize", str(mnt)])
    state = "ok" if ok else _probe(mnt)
    if state == "hung" and not args.force:
        print(f"aisfs umount: {mnt}: the mount's daemon does not answer (use --force to abort its connection)",
              file=sys.stderr)
        return 1
    if not ok and (args.lazy or args.force or state == "dead"):
        ok = (_run_quiet(["fusermount3", "-u", "-z", str(mnt)])
              or _run_quiet(["umount", "-l", "--no-canonicalize", str(mnt)]))
        pid = None  # a detached daemon lives on until its open files close: do not wait for it
    if not ok:
        print(f"aisfs umount: {mnt}: target is busy (close its files, or use --lazy)", file=sys.stderr)
        return 1
    if pid is not None:  # wait for the daemon to finish its uploads and release the data dir
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
    return 0


def _resolve_mountpoint(path: Path) -> Path:
    """The absolute, symlink-free path, resolving only the parent: looking at the mountpoint itself is a
    request to its daemon, which may be hung."""
    path = Path(os.path.abspath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def _probe(mnt: Path) -> str:
    """"dead" (its daemon is gone: ENOTCONN), "hung" (no answer within PROBE_SECONDS), or "ok". The stat
    runs in a daemon thread: on a hung mount it would wait forever, and dies with this process."""
    found: list[str] = []

    def stat() -> None:
        try:
            os.stat(mnt)
            found.append("ok")
        except OSError as e:
            found.append("dead" if e.errno == errno.ENOTCONN else "ok")

    t = threading.Thread(target=stat, daemon=True)
    t.start()
    t.join(PROBE_SECONDS)
    return found[0] if found else "hung"


def _abort_connection(device: str | None) -> bool:
    """Write to the connection's `abort` in fusectl, as `umount -f` of a FUSE mount would: every request
    waiting on the daemon fails at once. fusectl is mounted for this if it is not yet, and unmounted again
    after (so nothing of ours stays mounted)."""
    if device is None:
        print("aisfs umount: cannot find the mount's FUSE connection in /proc/self/mountinfo", file=sys.stderr)
        return False
    conn = Path(FUSECTL) / device.split(":")[1] / "abort"
    mounted_here = not conn.exists() and _run_quiet(["mount", "-t", "fusectl", "none", FUSECTL])
    try:
        conn.write_text("1")
        return True
    except OSError as e:
        print(f"aisfs umount: cannot abort the FUSE connection ({conn}: {e.strerror}); "
              f"as root, `mount -t fusectl none {FUSECTL}` first", file=sys.stderr)
        return False
    finally:
        if mounted_here:
            _run_quiet(["umount", FUSECTL])


def _run_quiet(cmd: list[str]) -> bool:
    if shutil.which(cmd[0]) is None:
        return False
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own child in tests) has finished its work
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
