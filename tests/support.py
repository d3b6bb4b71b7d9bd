"""Test support: real `aisfs serve` processes on free loopback ports, stopped by PID."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def tmpfs(path: Path, size: int) -> Iterator[Path]:
    """A file system of its own at `path` (a new directory), `size` bytes; unmounted even when the test fails."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "aisfs-test", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def data_files(server: "Server") -> set[Path]:
    """Every data file on a server's default mountpath (`<data dir>/mpath/%ob/xx/yy/<fid>`)."""
    return set((server.data_dir / "mpath" / "%ob").glob("*/*/*"))


def settled_data_files(server: "Server", want: int, timeout: float = 5.0) -> set[Path]:
    """The data files once there are `want` of them (the engine unlinks dropped files off its event
    loop), or as they are after `timeout`."""
    deadline = time.monotonic() + timeout
    while len(files := data_files(server)) != want and time.monotonic() < deadline:
        time.sleep(0.02)
    return files


def evict(path: Path) -> None:
    """Drop a file's clean pages from the page cache (no root needed), so its next read goes to its
    filesystem: the disk for a data file, the daemon for a file on the mount."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aisfs_cmd(*args: str) -> list[str]:
    """The CLI as users run it (the installed console script's module)."""
    return [sys.executable, "-m", "aisfs", *args]


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
    """Signal a process we started (by its PID) and reap it; SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Server:
    """One `aisfs serve` process over a data dir; restartable, killable with SIGKILL."""

    def __init__(self, data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.extra = list(extra)
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "Server":
        cmd = aisfs_cmd("serve", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}", *self.extra)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aisfs serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"aisfs serve did not become healthy:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Stop the process by its PID; SIGKILL if it does not exit in time."""
        if self.proc is None:
            return None
        rc = stop_process(self.proc, sig, timeout)
        self.proc = None
        return rc

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> "Server":
        self.stop()
        return self.start()

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kw)  # type: ignore[arg-type]


def run_cli(*args: str, endpoint: str | None = None, input: bytes | None = None, check: bool = False,
            timeout: float = 120.0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `aisfs` CLI as a subprocess, against `endpoint` when given."""
    full_env = {**os.environ, **(env or {})}
    if endpoint:
        full_env["AIS_ENDPOINT"] = endpoint
    return subprocess.run(aisfs_cmd(*args), input=input.decode() if input else None, capture_output=True, text=True,
                          env=full_env, timeout=timeout, check=check, cwd=ROOT)
