"""HTTP behaviour clients rely on: keep-alive, pipelining, `Expect: 100-continue`, graceful stop on SIGTERM."""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from restkit import create_bucket, ourl, raw, read_response, set_props
from support import Server


@pytest.fixture(scope="module")
def c(shared_server: Server) -> Iterator[httpx.Client]:
    """One client on the module's server (its tests use distinct bucket names)."""
    with shared_server.client() as client:
        create_bucket(client, "web")
        yield client


def test_keep_alive_many_requests_one_connection(shared_server: Server, c: httpx.Client) -> None:
    """Hundreds of requests (PUT, GET, HEAD, errors) reuse one TCP connection."""
    conn = http.client.HTTPConnection("127.0.0.1", shared_server.port, timeout=10)
    try:
        conn.connect()
        sock, local = conn.sock, conn.sock.getsockname()
        for i in range(150):
            body = f"body {i}".encode() * (i + 1)
            conn.request("PUT", ourl("web", f"ka/{i}"), body=body)
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            conn.request("GET", ourl("web", f"ka/{i}"))
            r = conn.getresponse()
            assert r.status == 200 and r.read() == body
            conn.request("HEAD", ourl("web", f"ka/{i}"))
            r = conn.getresponse()
            r.read()
            assert r.status == 200 and r.getheader("content-length") == str(len(body))
            conn.request("GET", ourl("web", "ka/missing"))
            r = conn.getresponse()
            assert r.status == 404 and b"message" in r.read()
        assert conn.sock is sock and conn.sock.getsockname() == local
    finally:
        conn.close()


def test_pipelined_requests(shared_server: Server, c: httpx.Client) -> None:
    """Requests written back to back before reading are answered in order on the same connection."""
    c.put(ourl("web", "pipe"), content=b"pipelined")
    n = 50
    req = f"GET {ourl('web', 'pipe')} HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", shared_server.port), timeout=10) as s:
        s.sendall(req * n)
        f = s.makefile("rb")
        for _ in range(n):
            assert read_response(f)[::2] == (200, b"pipelined")
            status, _, body = read_response(f)
            assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_interleaved_uploads_keep_their_own_bytes(shared_server: Server, c: httpx.Client) -> None:
    """Eight uploads whose bodies arrive in small interleaved pieces (chunked and sized) each store exactly
    their own bytes: the server reads every connection through one shared buffer."""
    bodies = {f"mix/{i}": os.urandom(600_000 + i * 7_919) for i in range(8)}

    def upload(key: str, body: bytes, chunked: bool) -> int:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
        with socket.create_connection(("127.0.0.1", shared_server.port), timeout=30) as s:
            s.sendall(f"PUT {ourl('web', key)} HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n".encode())
            for off in range(0, len(body), 24_001):
                piece = body[off:off + 24_001]
                s.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
                time.sleep(0.001)
            if chunked:
                s.sendall(b"0\r\n\r\n")
            return read_response(s.makefile("rb"))[0]

    statuses: list[int] = []
    threads = [threading.Thread(target=lambda k=k, b=b, i=i: statuses.append(upload(k, b, i % 2 == 0)))
               for i, (k, b) in enumerate(bodies.items())]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(bodies)
    for key, body in bodies.items():
        got = c.get(ourl("web", key)).content
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest(), key


def test_head_limit_counts_only_head_bytes() -> None:
    """One read that ends inside a request head after a megabyte of pipelined requests is not a head over
    the 64 KiB limit (under load the server's reads grow that large); a head that never ends still is."""
    from engine.http.server import _Parser, _Rejected, _Head

    p = _Parser(65536)
    put = b"PUT /v1/objects/web/k HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    p.feed(put[:20])                                     # a read that ends inside a head
    p.feed(put[20:] + put * 1000 + put[:30])             # ... and one that ends inside another
    p.feed(put[30:])
    assert sum(isinstance(ev, _Head) for ev in p.events) == 1002
    endless = _Parser(65536)
    endless.feed(b"GET / HTTP/1.1\r\nHost: t\r\n")
    with pytest.raises(_Rejected) as e:
        for _ in range(100):
            endless.feed(b"X-Filler: " + b"y" * 1000 + b"\r\n")
    assert e.value.status == 431


def expect_put(port: int, path: str, body: bytes) -> tuple[bool, int, bytes]:
    """PUT with `Expect: 100-continue`, sending the body only after the interim 100 (or never, on a final answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n"
                  f"Expect: 100-continue\r\n\r\n".encode())
        f = s.makefile("rb")
        status, _, resp = read_response(f)
        if status != 100:
            return False, status, resp
        s.sendall(body)
        status, _, resp = read_response(f)
        return True, status, resp


def test_expect_100_continue_raw(shared_server: Server, c: httpx.Client) -> None:
    """The server sends 100 Continue before the body; refusals come at once, with no body sent."""
    body = os.urandom(3 << 20)
    got_100, status, _ = expect_put(shared_server.port, ourl("web", "expect"), body)
    assert got_100 and status == 200
    assert c.get(ourl("web", "expect")).content == body
    got_100, status, resp = expect_put(shared_server.port, ourl("no-such-bucket", "x"), body)
    assert (got_100, status) == (False, 404) and b"message" in resp
    create_bucket(c, "web-ro")
    assert set_props(c, "web-ro", {"access": "ro"}).status_code == 200
    got_100, status, resp = expect_put(shared_server.port, ourl("web-ro", "x"), body)
    assert (got_100, status) == (False, 403) and b"message" in resp
    assert c.get("/v1/health").status_code == 200


def test_expect_100_continue_with_curl(shared_server: Server, c: httpx.Client, tmp_path: Path) -> None:
    """`curl -T` (which sends Expect: 100-continue for large uploads) uploads, and reads back identical."""
    src = tmp_path / "upload.bin"
    src.write_bytes(os.urandom(5 << 20))
    p = subprocess.run(["curl", "-sS", "-v", "--fail", "-T", str(src), shared_server.url + ourl("web", "curl.bin")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Expect: 100-continue" in p.stderr and "100 Continue" in p.stderr
    assert c.get(ourl("web", "curl.bin")).content == src.read_bytes()
    out = tmp_path / "download.bin"
    p = subprocess.run(["curl", "-sS", "--fail", "-o", str(out), shared_server.url + ourl("web", "curl.bin")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and out.read_bytes() == src.read_bytes()


def test_sigterm_lets_a_large_get_finish(tmp_path: Path) -> None:
    """SIGTERM mid-GET: the GET completes byte for byte, new connections are refused, the process exits 0."""
    srv = Server(tmp_path / "data").start()
    try:
        data = os.urandom(96 << 20)
        with srv.client() as c:
            create_bucket(c, "big")
            assert c.put(ourl("big", "blob"), content=data).status_code == 200
        idle = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)  # an idle keep-alive connection
        idle.request("GET", "/v1/health")
        idle.getresponse().read()
        h = hashlib.sha256()
        n = 0
        with httpx.Client(base_url=srv.url, timeout=30) as c, c.stream("GET", ourl("big", "blob")) as r:
            assert r.status_code == 200
            chunks = r.iter_raw(1 << 20)
            first = next(chunks)
            h.update(first)
            n += len(first)
            assert srv.proc is not None
            srv.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the listener closes once the signal is handled
                try:
                    httpx.get(srv.url + "/v1/health", timeout=2)
                except httpx.ConnectError:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the server still accepts connections after SIGTERM")
            for chunk in chunks:
                h.update(chunk)
                n += len(chunk)
                time.sleep(0.002)  # a slow reader: the server must wait for it, not cut it off
        assert n == len(data) and h.digest() == hashlib.sha256(data).digest()
        assert srv.proc.wait(15) == 0
        idle.close()
    finally:
        srv.stop()


def test_sigterm_lets_an_upload_finish(tmp_path: Path) -> None:
    """SIGTERM mid-PUT: the upload still completes (200) and the object is there after a restart."""
    srv = Server(tmp_path / "data").start()
    try:
        with srv.client() as c:
            create_bucket(c, "up")
        data = os.urandom(8 << 20)
        sent = threading.Event()

        def slow_body() -> Iterator[bytes]:
            for i in range(0, len(data), 256 << 10):
                if i == 2 << 20:
                    sent.set()
                time.sleep(0.02)
                yield data[i:i + (256 << 10)]

        result: list[int] = []
        t = threading.Thread(target=lambda: result.append(
            httpx.put(srv.url + ourl("up", "slow"), content=slow_body(), timeout=30).status_code))
        t.start()
        assert sent.wait(10)
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGTERM)
        t.join(30)
        assert result == [200]
        assert srv.proc.wait(15) == 0
        srv.start()
        with srv.client() as c:
            assert c.get(ourl("up", "slow")).content == data
    finally:
        srv.stop()


def test_absolute_form_target(shared_server: Server, c: httpx.Client) -> None:
    """A request target in absolute form (as sent through proxies) is served like its path (RFC 9112)."""
    c.put(ourl("web", "abs key"), content=b"absolute")
    status, _, body = raw(shared_server.port, f"GET http://127.0.0.1:{shared_server.port}{ourl('web', 'abs key')} "
                          f"HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    assert (status, body) == (200, b"absolute")
    status, _, body = raw(shared_server.port, b"GET http://any.host/v1/health?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def _closed_after(sock: socket.socket, limit: float = 15.0) -> float:
    """Seconds until the server closes the connection (reading and dropping whatever it sends first)."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(4096):
        pass
    return time.monotonic() - t0


def test_clients_that_stall_are_disconnected(tmp_path: Path) -> None:
    """Every wait on a client is bounded: a connection that sends nothing, or a request head that never
    ends (however steadily it trickles in), is closed once `timeout.request_header` has passed; an idle
    keep-alive connection once `timeout.max_keepalive` has; a client whose requests keep coming is served.
    The settings apply to the connections opened after they are set, without a restart, in every process
    that serves (two here: the owner and a worker share the port)."""
    srv = Server(tmp_path / "data", "--workers", "2").start()
    try:
        with srv.client() as c:
            settings = {"timeout.request_header": "1s", "timeout.max_keepalive": "2s"}
            assert c.put("/v1/daemon", json={"action": "set-config", "value": settings}).status_code == 200
        addr = ("127.0.0.1", srv.port)
        idle = [socket.create_connection(addr) for _ in range(6)]   # send nothing; they land on either process
        try:
            t0 = time.monotonic()
            for s in idle:
                _closed_after(s)
                assert 0.8 < time.monotonic() - t0 < 5
        finally:
            for s in idle:
                s.close()
        with socket.create_connection(addr) as s:   # sends nothing
            assert 0.8 < _closed_after(s) < 5
        with socket.create_connection(addr) as s:   # a head trickling in, never finished
            t0 = time.monotonic()
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
            with contextlib.suppress(OSError):       # the server may close while this still writes
                while time.monotonic() - t0 < 4:
                    s.sendall(b"X-Slow: 1\r\n")
                    time.sleep(0.2)
            assert time.monotonic() - t0 + _closed_after(s) < 5
        with socket.create_connection(addr) as s:   # keep-alive: requests 0.5 s apart for 3 s, then idle
            f = s.makefile("rb")
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3:
                s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                status, _, body = read_response(f)
                assert status == 200 and json.loads(body) == {"status": "ok"}
                time.sleep(0.5)
            idle = _closed_after(s)   # 2 s of keep-alive, 0.5 s of them slept above
            assert 1.2 < idle < 6, idle
    finally:
        srv.stop()
