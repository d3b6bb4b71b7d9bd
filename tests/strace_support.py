"""strace attached to a running server or mount daemon: what a pulled plug or a request count would
show, watched as syscalls instead (CI can stage neither)."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from support import stop_process


class Strace:
    """strace attached to every thread of a running process (`syscalls`: strace's -e trace= list), stopped
    by its PID."""

    def __init__(self, pid: int, out: Path, syscalls: str, *extra: str) -> None:
        self.out = out
        self.proc = subprocess.Popen(["strace", "-f", "-y", "-s", "32", *extra, "-e", f"trace={syscalls}", "-o",
                                      str(out), "-p", str(pid)], stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:  # strace says when it has attached to each thread
            line = self.proc.stderr.readline()
            if "attached" in line:
                time.sleep(0.3)  # the remaining threads
                return
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("strace did not attach")

    def stop(self) -> list[str]:
        stop_process(self.proc, signal.SIGINT, 10)  # SIGINT: strace detaches and flushes its output
        return self.out.read_text(errors="replace").splitlines() if self.out.exists() else []
