"""`aisfs serve --workers N`: worker processes serve object reads beside the owner of the data dir.

Which process accepts a connection is the kernel's choice, so these tests find out who holds each one
(the server end's socket in /proc) and pick a connection held by a worker, or by the owner, on purpose.
"""
from __future__ import annotations

import contextlib
import glob
import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from support import Server

NO_GET = str(0x2)  # AIStore's access mask with HEAD alone: GET is refused


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("workers") / "data", "--workers", "2").start()
    try:
        yield s
    finally:
        s.stop()


def _workers(owner: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(owner), "-f", "engine.http.workers"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _holder(conn: http.client.HTTPConnection, pids: list[int]) -> int | None:
    """Which of `pids` holds the server end of `conn` (an open connection)."""
    assert conn.sock is not None
    port = conn.sock.getsockname()[1]
    inodes = {line.split()[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
              if int(line.split()[2].split(":")[1], 16) == port}
    for pid in pids:
        for fd in glob.glob(f"/proc/{pid}/fd/*"):
            try:
                if os.readlink(fd) in {f"socket:[{i}]" for i in inodes}:
                    return pid
            except OSError:
                continue
    return None


@contextlib.contextmanager
def _conn_held_by(srv: Server, want_worker: bool) -> Iterator[tuple[http.client.HTTPConnection, list[int]]]:
    """A keep-alive connection (one request answered on it) that a worker, or the owner, serves; with the
    owner's and the worker's pids. Closed at the end."""
    assert srv.proc is not None
    owner, workers = srv.proc.pid, _workers(srv.proc.pid)
    assert len(workers) == 1, workers
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            status, _, _ = _req(conn, "GET", "/v1/health")
            assert status == 200
            if _holder(conn, [owner, *workers]) == (workers[0] if want_worker else owner):
                yield conn, [owner, *workers]
                return
        finally:
            conn.close()
    raise AssertionError("no connection landed on the wanted process in 200 tries")


def _req(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def _bucket(srv: Server, name: str) -> None:
    with srv.client() as c:
        assert c.post(f"/v1/buckets/{name}", json={"action": "create-bck"}).status_code == 200


def test_worker_serves_reads_and_hands_the_rest_to_the_owner(srv: Server) -> None:
    _bucket(srv, "wk1")
    with srv.client() as c:
        assert c.put("/v1/objects/wk1/a/obj", content=b"first").status_code == 200
    with _conn_held_by(srv, want_worker=True) as (conn, (owner, worker)):
        status, h, body = _req(conn, "GET", "/v1/objects/wk1/a/obj")
        assert (status, body) == (200, b"first") and h["ais-checksum-type"] == "xxhash"
        status, h, body = _req(conn, "HEAD", "/v1/objects/wk1/a/obj")
        assert (status, h["content-length"], body) == (200, "5", b"")
        assert _req(conn, "GET", "/wk1/a/obj", headers={"range": "bytes=1-3"})[::2] == (206, b"irs")  # S3 face
        assert _req(conn, "GET", "/wk1/a/missing")[0] == 404
        assert _holder(conn, [owner, worker]) == worker, "reads stay with the worker"

        # a write (and a listing) on the same connection: handed over, answered, and served on by the owner
        status, _, _ = _req(conn, "PUT", "/v1/objects/wk1/a/obj", body=b"second, longer")
        assert status == 200
        assert _holder(conn, [owner, worker]) == owner
        assert _req(conn, "GET", "/v1/objects/wk1/a/obj")[::2] == (200, b"second, longer")
        status, _, body = _req(conn, "GET", "/wk1?list-type=2")
        assert status == 200 and b"<Key>a/obj</Key>" in body


def test_daemon_info_goes_to_the_owner(srv: Server) -> None:
    with _conn_held_by(srv, want_worker=True) as (conn, (owner, worker)):
        status, _, body = _req(conn, "GET", "/v1/daemon?what=stats")
        assert status == 200 and b'"counters"' in body
        assert _holder(conn, [owner, worker]) == owner


def test_owner_changes_reach_a_worker_at_once(srv: Server) -> None:
    _bucket(srv, "wk3")
    with srv.client() as c, _conn_held_by(srv, want_worker=True) as (conn, (owner, worker)):
        assert c.put("/v1/objects/wk3/k", content=b"v1").status_code == 200
        assert _req(conn, "GET", "/v1/objects/wk3/k")[::2] == (200, b"v1")
        assert c.put("/v1/objects/wk3/k", content=b"v2 is here").status_code == 200
        assert _req(conn, "GET", "/v1/objects/wk3/k")[::2] == (200, b"v2 is here")
        assert c.patch("/v1/buckets/wk3", json={"action": "set-bprops", "value": {"access": NO_GET}}
                       ).status_code == 200
        assert _req(conn, "GET", "/v1/objects/wk3/k")[0] == 403
        assert _req(conn, "HEAD", "/v1/objects/wk3/k")[0] == 200
        assert c.patch("/v1/buckets/wk3", json={"action": "set-bprops", "value": {"access": "rw"}}
                       ).status_code == 200
        assert c.delete("/v1/objects/wk3/k").status_code == 200
        assert _req(conn, "GET", "/v1/objects/wk3/k")[0] == 404
        assert c.delete("/v1/buckets/wk3").status_code == 200
        assert _req(conn, "GET", "/v1/objects/wk3/k")[0] == 404
        assert _holder(conn, [owner, worker]) == worker


def test_pipelined_requests_keep_their_order_across_a_hand_off(srv: Server) -> None:
    _bucket(srv, "wk4")
    with srv.client() as c:
        assert c.put("/v1/objects/wk4/g", content=b"got").status_code == 200
    get = b"GET /v1/objects/wk4/g HTTP/1.1\r\nHost: x\r\n\r\n"
    put = b"PUT /v1/objects/wk4/p HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\npiped!"
    last = b"GET /v1/objects/wk4/p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with _conn_held_by(srv, want_worker=True) as (conn, _):
        assert conn.sock is not None
        conn.sock.sendall(get * 2 + put + get + last)
        data = b""
        while chunk := conn.sock.recv(65536):
            data += chunk
    answers = data.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"200"] * 5
    assert [a.rsplit(b"\r\n\r\n", 1)[1] for a in answers] == [b"got", b"got", b"", b"got", b"piped!"]


def test_a_large_body_crosses_the_hand_off_whole(srv: Server) -> None:
    """The worker has read part of the body when it hands over; the owner gets those bytes and the rest."""
    _bucket(srv, "wk6")
    data = os.urandom(3 * (1 << 20) + 17)
    with _conn_held_by(srv, want_worker=True) as (conn, (owner, worker)):
        assert _req(conn, "PUT", "/wk6/big", body=data)[0] == 200   # S3 face, anonymous on loopback
        assert _holder(conn, [owner, worker]) == owner
    with _conn_held_by(srv, want_worker=True) as (conn, _):
        assert _req(conn, "GET", "/v1/objects/wk6/big")[::2] == (200, data)


def test_worker_reads_count_in_the_owners_stats_and_atimes(srv: Server) -> None:
    _bucket(srv, "wk5")
    with srv.client() as c:
        assert c.put("/v1/objects/wk5/k", content=b"x" * 100).status_code == 200
        before = c.get("/v1/daemon", params={"what": "stats"}).json()["counters"].get("get.n", 0)
    with _conn_held_by(srv, want_worker=False) as (owner_conn, _), \
            _conn_held_by(srv, want_worker=True) as (conn, _):
        atime0 = int(_req(owner_conn, "HEAD", "/v1/objects/wk5/k")[1]["ais-atime"])
        time.sleep(0.01)
        for _ in range(25):
            assert _req(conn, "GET", "/v1/objects/wk5/k")[0] == 200
        deadline = time.monotonic() + 10
        while True:
            with srv.client() as c:
                got = c.get("/v1/daemon", params={"what": "stats"}).json()["counters"].get("get.n", 0)
            atime = int(_req(owner_conn, "HEAD", "/v1/objects/wk5/k")[1]["ais-atime"])
            if got >= before + 25 and atime > atime0:
                break
            assert time.monotonic() < deadline, (before, got, atime0, atime)
            time.sleep(0.2)


def test_workers_stop_with_the_owner(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", "--workers", "3").start()
    try:
        assert srv.proc is not None
        workers = _workers(srv.proc.pid)
        assert len(workers) == 2
        assert srv.stop() == 0
        assert not [p for p in workers if _alive(p)]

        srv.start()
        assert srv.proc is not None
        workers = _workers(srv.proc.pid)
        os.kill(srv.proc.pid, signal.SIGKILL)   # the owner gone without a word: its workers follow
        srv.stop()
        deadline = time.monotonic() + 10
        while [p for p in workers if _alive(p)]:
            assert time.monotonic() < deadline, "a worker outlived its owner"
            time.sleep(0.05)
        with socket.socket() as s:   # and the port is free again
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", srv.port))
            s.listen()
        assert srv.start().client().get("/v1/health").status_code == 200
    finally:
        srv.stop()


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", "--workers", "2").start()
    try:
        assert srv.proc is not None
        (first,) = _workers(srv.proc.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while not (now := _workers(srv.proc.pid)) or now == [first]:
            assert time.monotonic() < deadline, "no worker took the dead one's place"
            time.sleep(0.1)
        _bucket(srv, "wk7")
        with srv.client() as c:
            assert c.put("/v1/objects/wk7/k", content=b"still served").status_code == 200
        with _conn_held_by(srv, want_worker=True) as (conn, _):   # the new worker serves reads
            assert _req(conn, "GET", "/v1/objects/wk7/k")[::2] == (200, b"still served")
        assert "exited" in srv.log.read_text()
        assert srv.stop() == 0
        assert not [p for p in now if _alive(p)]
    finally:
        srv.stop()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
