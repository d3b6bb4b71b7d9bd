"""The mount daemon: open the store, mount, serve FUSE (and optionally S3 + REST) until unmounted or signalled."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pyfuse3
import trio

from .attrs import MountAttrs
from .backend import Backend, EmbeddedBackend
from .ops import AisOps
from .request_loop import install as install_request_loop

log = logging.getLogger("aisfs.fuse")

INDEFINITE_TTL = 10 * 365 * 86400.0
SHUTDOWN_UPLOAD_SECONDS = 60.0
READY_TIMEOUT = 30.0
HTTP_GRACE_SECONDS = 35.0


class MountError(Exception):
    """A reason not to mount, reported to the user in one line."""


@dataclass
class MountConfig:
    mountpoint: Path
    bucket: str | None = None
    prefix: str = ""
    data_dir: Path | None = None
    endpoint: str | None = None
    serve: str | None = None
    workers: int = 1          # processes serving HTTP with --serve (engine/http/workers.py)
    read_only: bool = False
    allow_other: bool = False
    uid: int | None = None
    gid: int | None = None
    file_mode: int = 0o644
    dir_mode: int = 0o755
    ttl: float = 1.0
    readahead_kb: int = 4096
    create_bucket: bool = False
    direct_io: bool = False
    max_tasks: int = 64
    # Idle request tasks kept waiting: with 1, pyfuse3 starts and ends a task for nearly every request
    # under load (4 threads reading small files: ~14% more daemon CPU per file than with 8).
    min_tasks: int = 8
    extra_options: list[str] = field(default_factory=list)


def runtime_dir() -> Path:
    """Where pid files of running mounts live, so `aisfs umount` can wait for the daemon to exit."""
    if os.geteuid() == 0:
        return Path("/run/aisfs")
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"aisfs-{os.getuid()}"


def pid_file(mountpoint: Path) -> Path:
    """Keyed by the resolved path; never resolve it here (stat on our own mount would deadlock)."""
    digest = hashlib.sha1(str(mountpoint).encode()).hexdigest()[:16]
    return runtime_dir() / f"mount-{digest}.pid"


@contextlib.asynccontextmanager
async def open_backend(cfg: MountConfig) -> AsyncIterator[tuple[Backend, Any]]:
    """The store the mount talks to: (backend, engine-or-None)."""
    if cfg.endpoint:
        from .remote import RemoteBackend  # only remote mounts need the HTTP client

        async with RemoteBackend.open(cfg.endpoint, cfg.data_dir) as backend:
            yield backend, None
        return
    from engine.core import Engine

    assert cfg.data_dir is not None
    async with Engine.open(cfg.data_dir) as engine:
        yield EmbeddedBackend(engine), engine


def _mount_options(cfg: MountConfig) -> set[str]:
    # `mount` and `df` show the source as it was given: ais://BUCKET, or ais:// for every bucket (a bare
    # "aisfs" was shown as a path when the working directory held an entry of that name)
    opts = set(pyfuse3.default_options) | {f"fsname=ais://{cfg.bucket or ''}", "subtype=aisfs"}
    if cfg.read_only:
        opts.add("ro")
    if cfg.allow_other:
        opts.add("allow_other")
    opts.update(cfg.extra_options)
    return opts


def mount_device(mountpoint: Path) -> str | None:
    """`major:minor` of the newest mount at `mountpoint`, from mountinfo. Never stat our own mount from
    a worker thread: that is a FUSE request, and if the daemon dies meanwhile the thread waits forever."""
    target, dev = os.path.abspath(mountpoint), None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4].encode().decode("unicode_escape") == target:
                dev = fields[2]
    return dev


def _set_readahead(mountpoint: Path, kb: int) -> None:
    """Few, large kernel read requests are what make a Python FUSE daemon fast (see ARCHITECTURE)."""
    dev = mount_device(mountpoint)
    if dev is None:
        log.info("could not raise readahead: %s is not in mountinfo", mountpoint)
        return
    path = f"/sys/class/bdi/{dev}/read_ahead_kb"
    try:
        with open(path, "w") as f:
            f.write(str(kb))
    except OSError as e:
        log.info("could not raise readahead (%s): %s", path, e)


async def run(cfg: MountConfig, ready: Callable[[str | None], None]) -> None:
    """Mount and serve until unmounted or SIGTERM/SIGINT; `ready(None)` once the mount answers."""
    uid, gid = os.getuid(), os.getgid()
    defaults = MountAttrs(uid=cfg.uid if cfg.uid is not None else uid, gid=cfg.gid if cfg.gid is not None else gid,
                          file_mode=cfg.file_mode, dir_mode=cfg.dir_mode, ttl=cfg.ttl)
    async with open_backend(cfg) as (backend, engine):
        if cfg.bucket is not None and not await backend.bucket_exists(cfg.bucket):
            if not cfg.create_bucket:
                raise MountError(f"bucket {cfg.bucket!r} does not exist (use --create-bucket)")
            await backend.create_bucket(cfg.bucket)
        if cfg.bucket is not None:  # directories without a marker take the bucket's time: the same on every mount
            defaults.started_ns = await backend.bucket_created_ns(cfg.bucket) or defaults.started_ns
        ops = AisOps(backend, cfg.bucket, cfg.prefix, defaults, read_only=cfg.read_only, direct_io=cfg.direct_io)
        pyfuse3.init(ops, str(cfg.mountpoint), _mount_options(cfg))
        install_request_loop()
        terminated = False
        pidf = pid_file(cfg.mountpoint)
        try:
            async with trio.open_nursery() as nursery:
                ops.nursery = nursery

                async def on_signals() -> None:
                    nonlocal terminated
                    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
                        async for sig in sigs:
                            log.info("signal %s: unmounting", sig)
                            terminated = True
                            pyfuse3.terminate()
                            return

                async def when_mounted() -> None:
                    with trio.fail_after(READY_TIMEOUT):
                        await trio.to_thread.run_sync(_set_readahead, cfg.mountpoint, cfg.readahead_kb)
                    with contextlib.suppress(OSError):
                        pidf.parent.mkdir(parents=True, exist_ok=True)
                        pidf.write_text(f"{os.getpid()}\n")
                    ready(None)

                nursery.start_soon(on_signals)
                stop_http, http_done = trio.Event(), trio.Event()
                if cfg.serve and engine is not None:
                    from engine.http.app import serve as serve_http  # only --serve needs the HTTP faces

                    addr, eng, workers = cfg.serve, engine, cfg.workers

                    async def run_http(task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
                        try:
                            await serve_http(eng, addr, stop=stop_http, workers=workers, task_status=task_status)
                        finally:
                            http_done.set()

                    await nursery.start(run_http)
                else:
                    http_done.set()
                nursery.start_soon(when_mounted)
                await pyfuse3.main(min_tasks=cfg.min_tasks, max_tasks=cfg.max_tasks)
                stop_http.set()  # in-flight S3/REST requests may finish
                with trio.move_on_after(HTTP_GRACE_SECONDS):
                    await http_done.wait()
                nursery.cancel_scope.cancel()
        finally:
            await _upload_pending(ops, backend)  # also when the loop failed: written data is never dropped
            pyfuse3.close(unmount=terminated or _still_mounted(cfg.mountpoint))
            with contextlib.suppress(OSError):
                pidf.unlink()


async def _upload_pending(ops: AisOps, backend: Backend) -> None:
    """Files still open for writing at shutdown are uploaded (shielded, bounded), like a last close."""
    with trio.CancelScope(shield=True), trio.move_on_after(SHUTDOWN_UPLOAD_SECONDS):
        for st in list(ops.states.values()):
            if st.dirty and not st.detached:
                try:
                    await st.commit(backend)
                except Exception:
                    log.exception("upload of %s/%s at shutdown failed", st.bucket, st.key)


def mount_type(mountpoint: Path) -> str | None:
    """The file system type mounted at this (resolved) path, from /proc/self/mountinfo; None if none."""
    target = str(mountpoint)
    found = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[4].encode().decode("unicode_escape") == target:
                    found = fields[fields.index("-") + 1]  # the last mount on a path is the visible one
    except (OSError, ValueError, IndexError):
        return None
    return found


def _still_mounted(mountpoint: Path) -> bool:
    return mount_type(mountpoint) is not None
