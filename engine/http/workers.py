"""Worker processes (`aisfs serve --workers N`): more cores for object reads.

One Python process serves one core's worth of requests. With N > 1, the process that owns the data dir
starts N - 1 workers that share its listening sockets (the kernel gives each new connection to whichever
process accepts first). A worker serves bodiless GET and HEAD of objects from the store read-only
(`engine/reader.py`); any other request, or one that needs the owner, makes it hand the whole connection
over: the socket travels over a Unix socket pair (SCM_RIGHTS) with the bytes read of its current
request, and the owner serves it from there as if it had accepted it. Every second a worker sends the
owner the atimes and counters of its reads. A worker stops with the owner's server (SIGTERM: in-flight
requests finish) and at once if the owner goes away (its end of the socket pair closes); one that exits
before that is replaced.
"""
from __future__ import annotations

import argparse
import array
import json
import logging
import os
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ..errors import first_error
from ..reader import ReaderEngine, WorkerView
from .app import ConfigLimits, make_app
from .server import HTTPServer, Request, Response

if TYPE_CHECKING:
    from ..core import Engine

log = logging.getLogger("aisfs.workers")

FRAME = struct.Struct("<cI")     # kind, payload length
HAND_OFF, REPORT = b"H", b"R"
REPORT_SECONDS = 1.0
STOP_SECONDS = 40.0              # a stopping worker finishes its requests (30 s of grace) before it is killed
RESTART_SECONDS = 1.0            # the pause before a worker that exited is replaced


class Link:
    """One end of the socket pair between the owner and a worker: framed messages, a handed-over
    connection's socket passed along with its message."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock
        self._sending = trio.Lock()   # many connections may hand over at once: one message at a time

    async def send(self, kind: bytes, payload: bytes, fd: int | None = None) -> None:
        async with self._sending:
            head = FRAME.pack(kind, len(payload))
            fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))] if fd is not None else []
            n = await self.sock.sendmsg([head], fds)
            await self._send_all(head[n:] + payload)

    async def _send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[await self.sock.send(view):]

    async def receive(self) -> tuple[bytes, bytes, list[int]] | None:
        """The next message (kind, payload, passed descriptors); None once the other side has closed."""
        head, fds = b"", []
        while len(head) < FRAME.size:
            data, ancillary, _, _ = await self.sock.recvmsg(FRAME.size - len(head), socket.CMSG_SPACE(4 * 4))
            for level, kind, cdata in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got = array.array("i")
                    got.frombytes(cdata[:len(cdata) - len(cdata) % got.itemsize])
                    fds += got
            if not data:
                for fd in fds:
                    os.close(fd)
                return None
            head += data
        kind, size = FRAME.unpack(head)
        payload = bytearray()
        while len(payload) < size:
            data = await self.sock.recv(min(size - len(payload), 1 << 20))
            if not data:
                for fd in fds:
                    os.close(fd)
                return None
            payload += data
        return kind, bytes(payload), fds


# the owner's side ----------------------------------------------------------------------------------
class Workers:
    """Starts the worker processes, adopts the connections they hand over and takes their reports; stops
    them when `stop` is set. `run` goes beside the owner's connections (`HTTPServer.serve(alongside=)`)."""

    def __init__(self, engine: "Engine", server: HTTPServer, listeners: list[trio.SocketListener], count: int,
                 stop: trio.Event) -> None:
        self.engine, self.server, self.listeners, self.count, self.stop = engine, server, listeners, count, stop
        self.processes: list[trio.Process] = []

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                for _ in range(self.count):
                    nursery.start_soon(self._keep_one)
                nursery.start_soon(self._stop_on_request)
        finally:
            with trio.CancelScope(shield=True):
                for proc in self.processes:
                    if proc.returncode is None:
                        proc.kill()
                    await proc.wait()

    async def _keep_one(self) -> None:
        """One worker slot: a worker that exits before the server stops is replaced (after a pause, so
        one that cannot start does not spin)."""
        while True:
            proc, link = await self._start()
            await self._follow(proc, link)
            if self.stop.is_set():
                return
            log.warning("worker process %d exited (status %s); starting another in %.0f s",
                        proc.pid, proc.returncode, RESTART_SECONDS)
            with trio.move_on_after(RESTART_SECONDS):
                await self.stop.wait()
            if self.stop.is_set():
                return

    async def _start(self) -> tuple[trio.Process, Link]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        listen_fds = [lst.socket.fileno() for lst in self.listeners]
        cmd = [sys.executable, "-m", "engine.http.workers", "--data-dir", str(self.engine.data_dir),
               "--control-fd", str(theirs.fileno()), *[a for fd in listen_fds for a in ("--listen-fd", str(fd))]]
        try:
            proc = await trio.lowlevel.open_process(cmd, pass_fds=(theirs.fileno(), *listen_fds))
        finally:
            theirs.close()
        self.processes.append(proc)
        return proc, Link(trio.socket.from_stdlib_socket(ours))

    async def _follow(self, proc: trio.Process, link: Link) -> None:
        """A worker's messages until it closes its end; a bad one is logged, never the owner's end."""
        with link.sock:
            try:
                while (msg := await link.receive()) is not None:
                    kind, payload, fds = msg
                    if kind == HAND_OFF and len(fds) == 1:
                        self.server.adopt(socket.socket(fileno=fds[0]), payload)
                        continue
                    for fd in fds:
                        os.close(fd)
                    if kind == REPORT:
                        doc = json.loads(payload)
                        self.engine.absorb([(bid, key, t) for bid, key, t in doc["atimes"]], doc["counters"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.error("worker process %d: bad message (%s: %s); it is stopped", proc.pid, type(e).__name__, e)
                proc.kill()
        with trio.move_on_after(STOP_SECONDS):
            await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        self.processes.remove(proc)

    async def _stop_on_request(self) -> None:
        await self.stop.wait()
        for proc in self.processes:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)


# the worker's side ---------------------------------------------------------------------------------
async def _serve_worker(data_dir: Path, control_fd: int, listen_fds: list[int]) -> None:
    engine = ReaderEngine(data_dir)
    try:
        link = Link(trio.socket.from_stdlib_socket(socket.socket(fileno=control_fd)))
        faces = make_app(WorkerView(engine))  # type: ignore[arg-type]

        async def app(req: Request) -> Response:
            engine.refresh()
            return await faces(req)

        async def hand_off(sock: trio.socket.SocketType, raw: bytes) -> None:
            await link.send(HAND_OFF, raw, fd=sock.fileno())

        server = HTTPServer(app, ConfigLimits(engine, engine.refresh), hand_off=hand_off)
        listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(socket.socket(fileno=fd)))
                     for fd in listen_fds]
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_sigterm, stop)
            nursery.start_soon(_end_with_owner, link, nursery.cancel_scope)
            nursery.start_soon(_report, engine, link)
            await server.serve(listeners, stop=stop)
            await link.send(REPORT, json.dumps(engine.report()).encode())
            nursery.cancel_scope.cancel()
    finally:
        engine.close()


async def _stop_on_sigterm(stop: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for sig in signals:
            if sig == signal.SIGTERM:  # SIGINT (a ^C at the terminal) reaches the owner too: it stops us
                stop.set()
                return


async def _end_with_owner(link: Link, scope: trio.CancelScope) -> None:
    """The owner never writes to a worker: the end of its socket means it is gone, and so is this process."""
    while await link.sock.recv(1):
        pass
    scope.cancel()


async def _report(engine: ReaderEngine, link: Link) -> None:
    while True:
        await trio.sleep(REPORT_SECONDS)
        report = engine.report()
        if report["atimes"] or report["counters"]:
            await link.send(REPORT, json.dumps(report).encode())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="aisfs worker", description="A worker process of `aisfs serve --workers`; "
                                "started by the server, not by hand.")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--control-fd", type=int, required=True)
    p.add_argument("--listen-fd", type=int, action="append", default=[])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        trio.run(_serve_worker, args.data_dir, args.control_fd, args.listen_fd)
    except BaseException as e:
        cause = first_error(e)
        if isinstance(cause, KeyboardInterrupt):
            return 130
        log.error("worker process %d failed: %s: %s", os.getpid(), type(cause).__name__, cause)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
