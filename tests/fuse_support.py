"""Real `aisfs mount` processes for the FUSE tests: unmounted, stopped by PID and cleaned up even on failure."""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import httpx
import trio

from support import ROOT, aisfs_cmd, free_port, stop_process


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4].encode().decode("unicode_escape") == target for line in f)


class Mount:
    """One `aisfs mount --foreground` subprocess over a data dir; restartable."""

    def __init__(self, base: Path, source: str = "bkt", *extra: str, data_dir: Path | None = None) -> None:
        self.base = base
        self.mnt = base / "mnt"
        self.data_dir = data_dir or base / "data"
        self.source = source
        self.extra = list(extra)
        self.log = base / "mount.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.mnt.mkdir(parents=True, exist_ok=True)

    def cmd(self, *more: str) -> list[str]:
        src = [self.source] if self.source else []
        return aisfs_cmd("mount", str(self.mnt), *src, "--data-dir", str(self.data_dir), "--log-file",
                         str(self.log), *self.extra, *more)

    def start(self, *more: str, timeout: float = 20.0) -> "Mount":
        self.proc = subprocess.Popen(self.cmd("--foreground", *more), cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                self.proc = None
                raise RuntimeError(f"aisfs mount exited early: {err}\n{self.tail()}")
            if is_mounted(self.mnt):
                try:
                    os.stat(self.mnt)
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mount did not come up\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def umount(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(aisfs_cmd("umount", str(self.mnt)), cwd=ROOT, capture_output=True, text=True,
                              timeout=60)

    def stop(self) -> None:
        """Unmount, stop the daemon by PID (SIGKILL if it hangs), and make sure nothing stays mounted."""
        try:
            if is_mounted(self.mnt):
                self.umount()
        finally:
            if self.proc is not None:
                stop_process(self.proc, timeout=20)
                if self.proc.stderr:
                    self.proc.stderr.close()
                self.proc = None
            if is_mounted(self.mnt):
                subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)], capture_output=True)

    def restart(self, *more: str) -> "Mount":
        self.stop()
        return self.start(*more)

    def path(self, *parts: str) -> Path:
        return self.mnt.joinpath(*parts)


@contextlib.contextmanager
def mounted(base: Path, source: str = "bkt", *extra: str, **kw: Any) -> Iterator[Mount]:
    m = Mount(base, source, *extra, **kw)
    try:
        yield m.start()
    finally:
        m.stop()


def wait_healthy(c: httpx.Client, timeout: float = 10.0) -> None:
    """The mount's --serve endpoint answers (it listens before the mount reports ready; this bounds it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if c.get("/v1/health").status_code == 200:
                return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@contextlib.contextmanager
def serving_mount(base: Path, bucket: str, *extra: str) -> Iterator[tuple[Mount, httpx.Client]]:
    """An embedded mount of `bucket` that also serves S3 + REST (`--serve`), and a REST client on it once it
    answers; unmounted, stopped and cleaned up afterwards."""
    port = free_port()
    m = Mount(base, bucket, "--create-bucket", "--serve", f"127.0.0.1:{port}", *extra)
    try:
        m.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            wait_healthy(c)
            yield m, c
    finally:
        m.stop()
        cleanup(base)


def cleanup(base: Path) -> None:
    """Remove a test's directories, but never through a mount that is somehow still there."""
    for p in base.rglob("mnt"):
        if is_mounted(p):
            subprocess.run(["fusermount3", "-u", "-z", str(p)], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def with_engine(data_dir: Path, fn: Callable[[Any], Awaitable[Any]], mountpaths: list[Path] | None = None) -> Any:
    """Run `fn(engine)` on the data dir while no mount holds it (to seed or inspect objects)."""
    from engine.core import Engine

    async def main() -> Any:
        async with Engine.open(data_dir, mountpaths) as engine:
            return await fn(engine)

    return trio.run(main)


def large_writes_and_fallbacks(d: Path) -> None:
    """Sequential writes past the remote mode's streaming threshold, then every way out of a sequential
    write: a write behind the end, chmod + utimes before close, fsync mid-way, unlink while open."""
    big = os.urandom(12 * 1024 * 1024 + 5)
    (d / "seq").write_bytes(big)
    assert (d / "seq").read_bytes() == big
    with open(d / "back", "wb") as f:  # streaming, then a write behind the end: staged copy wins
        f.write(big)
        f.seek(100)
        f.write(b"PATCH")
    assert (d / "back").read_bytes() == big[:100] + b"PATCH" + big[105:]
    with open(d / "meta", "wb") as f:  # chmod + utimes before close, as cp -a does
        f.write(big)
        os.fchmod(f.fileno(), 0o640)
        os.utime(f.fileno(), ns=(1_650_000_000_000_000_000,) * 2)
    st = os.stat(d / "meta")
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_mtime_ns == 1_650_000_000_000_000_000
    assert (d / "meta").read_bytes() == big
    with open(d / "synced", "wb") as f:  # fsync mid-way, then more
        f.write(big)
        f.flush()
        os.fsync(f.fileno())
        assert os.stat(d / "synced").st_size == len(big)
        f.write(b"tail")
    assert (d / "synced").read_bytes() == big + b"tail"
    f = open(d / "gone", "wb")
    try:
        f.write(big)
        os.unlink(d / "gone")
    finally:
        f.close()
    assert not (d / "gone").exists()
    assert sorted(os.listdir(d)) == ["back", "meta", "seq", "synced"]
