"""pyfuse3's request loop with fewer scheduler trips (aisfs/fuse/request_loop.py): the lock its tasks share
has one holder at a time, takes a free lock without yielding and leaves no waiter behind (cancelled ones
included); waits on a busy fd return at once but still let the rest of the process run."""
from __future__ import annotations

import os

import trio

from aisfs.fuse.request_loop import FAST_TURNS, RequestLock, _Lowlevel


async def test_one_holder_at_a_time_and_every_waiter_served() -> None:
    lock, holders, served = RequestLock(), [], []

    async def worker(n: int) -> None:
        for _ in range(50):
            async with lock:
                holders.append(n)
                assert len(holders) == 1
                await trio.sleep(0)  # hold it across a yield, as pyfuse3 does while it waits on /dev/fuse
                holders.remove(n)
        served.append(n)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for n in range(8):
                nursery.start_soon(worker, n)
    assert sorted(served) == list(range(8))


async def test_a_free_lock_is_taken_without_yielding() -> None:
    lock, ran = RequestLock(), []

    async def other() -> None:
        ran.append(True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        async with lock:  # would let `other` run first if taking it yielded
            assert ran == []
    assert ran == [True]


async def test_cancelled_waiters_leave_the_lock_working() -> None:
    lock = RequestLock()

    async def waiter(scope: trio.CancelScope) -> None:
        with scope:
            async with lock:
                pass

    async with trio.open_nursery() as nursery:
        async with lock:
            scopes = [trio.CancelScope() for _ in range(3)]
            for scope in scopes:
                nursery.start_soon(waiter, scope)
            await trio.sleep(0.01)
            scopes[0].cancel()
            scopes[1].cancel()
            await trio.sleep(0.01)
    with trio.fail_after(5):
        async with lock:  # the third waiter got it and let go; a new taker is not left waiting
            pass



async def test_a_busy_fd_still_lets_other_tasks_run() -> None:
    """While requests keep coming (here: a pipe that always has data), the waits return at once, but one in
    FAST_TURNS + 1 goes through trio, so the rest of the process is never starved."""
    r, w = os.pipe()
    waits, seen = [0], []

    async def other() -> None:
        while True:
            seen.append(waits[0])
            await trio.sleep(0)

    try:
        os.write(w, b"x")
        view = _Lowlevel()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(other)
            for _ in range(20 * (FAST_TURNS + 1)):
                await view.wait_readable(r)
                waits[0] += 1
            nursery.cancel_scope.cancel()
    finally:
        os.close(r)
        os.close(w)
    gaps = [b - a for a, b in zip(seen, seen[1:])]
    # one trip through trio per FAST_TURNS + 1 waits; `other` runs once per trip, before or after this task
    assert len(seen) >= 19 and max(gaps) <= 2 * (FAST_TURNS + 1)
    assert max(gaps) > 1  # and most waits did return without the scheduler
