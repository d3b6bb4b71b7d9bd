"""pyfuse3's request loop with fewer trips through trio's scheduler.

pyfuse3 reads requests with a pool of tasks: each takes a `trio.Lock`, waits until /dev/fuse is readable,
lets the lock go, reads one request and runs its handler. Taking a free `trio.Lock` still yields to the
scheduler, and waiting for the fd registers it with epoll and yields even when a request is already queued:
two scheduler rounds and three system calls per request, a fifth of the daemon's CPU for a small file.

pyfuse3 looks up `trio` in its own module at call time (that is how `pyfuse3.asyncio` swaps the event loop),
so `install()` hands it a view of trio with two changes: a lock that yields only when it must wait, and a
`wait_readable` that returns at once when a request is already queued. After FAST_TURNS such turns in a row
it waits through trio as before, so other tasks (the S3 server beside the mount, thread results, timers)
still get their turn while requests keep coming.
"""
from __future__ import annotations

import select
import types
from typing import Any

import pyfuse3
import trio

FAST_TURNS = 16  # requests taken without yielding before one real wait


class RequestLock:
    """Mutual exclusion for pyfuse3's readers of /dev/fuse (two tasks may not wait on one fd); a free lock
    is taken without a checkpoint. Releasing wakes one waiter, never more while that one has yet to run."""

    def __init__(self) -> None:
        self._held = False
        self._waking = False
        self._lot = trio.lowlevel.ParkingLot()

    async def __aenter__(self) -> None:
        while self._held:
            try:
                await self._lot.park()
            finally:
                self._waking = False
        self._held = True

    async def __aexit__(self, *exc: object) -> None:
        self._held = False
        if self._lot and not self._waking:
            self._waking = True
            self._lot.unpark()


class _Lowlevel:
    """trio.lowlevel, with a `wait_readable` that skips the scheduler while requests are queued."""

    def __init__(self) -> None:
        self._poll: select.poll | None = None
        self._fd = -1
        self._turns = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(trio.lowlevel, name)

    async def wait_readable(self, fd: int) -> None:
        if fd != self._fd:
            self._poll, self._fd = select.poll(), fd
            self._poll.register(fd, select.POLLIN)
        if self._turns < FAST_TURNS and self._poll is not None and self._poll.poll(0):
            self._turns += 1
            return
        self._turns = 0
        await trio.lowlevel.wait_readable(fd)


class _TrioForPyfuse3(types.ModuleType):
    """What pyfuse3 sees as `trio`: the real module but for the two names above."""

    def __init__(self) -> None:
        super().__init__("trio")
        self.Lock = RequestLock
        self.lowlevel = _Lowlevel()

    def __getattr__(self, name: str) -> Any:
        return getattr(trio, name)


def install() -> None:
    """Make pyfuse3's request loop use the view above (once per process, before `pyfuse3.main`)."""
    if not isinstance(getattr(pyfuse3, "trio", None), _TrioForPyfuse3):
        pyfuse3.trio = _TrioForPyfuse3()  # type: ignore[attr-defined]
