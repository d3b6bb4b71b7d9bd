"""Malformed input never gets a 500 or a hang: every case answers 4xx JSON and the server stays healthy."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from restkit import act, bucket_props, create_bucket, ourl, raw, read_response
from support import Server


@pytest.fixture(scope="module")
def c(shared_server: Server) -> Iterator[httpx.Client]:
    """One client on the module's server (its tests use distinct bucket names)."""
    with shared_server.client() as client:
        create_bucket(client, "mal")
        client.put(ourl("mal", "obj"), content=b"payload")
        yield client


@pytest.fixture(autouse=True)
def healthy_after(shared_server: Server) -> Iterator[None]:
    """Whatever a test sent, the server must still answer afterwards, and the stored object be intact."""
    yield
    with shared_server.client() as c:
        assert c.get("/v1/health", timeout=5).json() == {"status": "ok"}
        assert c.get(ourl("mal", "obj")).content == b"payload"


def assert_4xx_json(status: int, body: bytes) -> dict:
    """4xx with the JSON error contract."""
    assert 400 <= status < 500, (status, body[:300])
    doc = json.loads(body)
    assert set(doc) >= {"message", "status"} and doc["status"] == status and doc["message"], doc
    return doc


@pytest.mark.parametrize("body", [b"{", b"not json", b"\xff\xfe", b"[1,2]", b'"create-bck"', b"null", b"{}",
                                  b'{"action": 5}', b'{"action": ["create-bck"]}', b'{"action": "explode-bck"}',
                                  b'{"action": "create-bck", "value": [1]}', b'{"action": "create-bck", "value": "x"}'])
def test_bad_action_bodies(c: httpx.Client, body: bytes) -> None:
    """Broken JSON, wrong shapes and unknown actions on a bucket: 400 JSON, and no bucket appears."""
    r = c.post("/v1/buckets/malnew", content=body, headers={"Content-Type": "application/json"})
    assert_4xx_json(r.status_code, r.content)
    assert c.head("/v1/buckets/malnew").status_code == 404


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/v1/nothing", None),
    ("GET", "/v1/objects/mal", None),
    ("PUT", "/v1/objects/", b"x"),
    ("PATCH", "/v1/objects/mal/obj", b"x"),
    ("GET", "/v1/objects/nobucket/obj", None),
    ("GET", "/v1/objects/mal/%ff%fe", None),
    ("PUT", "/v1/objects/bad..name/k", b"x"),
    ("POST", "/v1/buckets/bad%2Fname", b'{"action":"create-bck"}'),
    ("POST", "/v1/buckets/", b'{"action":"create-bck"}'),
    ("POST", "/v1/objects/mal/obj", b'{"action":"rename-obj","name":5}'),
    ("POST", "/v1/objects/mal/obj", b'{"action":"copy-obj","name":"x","value":"zz"}'),
    ("GET", "/v1/buckets/mal", b'{"action":"list","value":{"flags":"abc"}}'),
    ("GET", "/v1/buckets/mal", b'{"action":"list","value":[1]}'),
    ("PATCH", "/v1/buckets/mal", b'{"action":"set-bprops","value":{"checksum":"md5"}}'),
    ("PATCH", "/v1/buckets/mal", b'{"action":"set-bprops","value":{"checksum":{"type":{"deep":1}}}}'),
    ("DELETE", "/v1/buckets/mal", b'{"action":"delete-listrange","value":{"template":5}}'),
    ("DELETE", "/v1/buckets/mal", b'{"action":"delete-listrange","value":{"template":"{"}}'),
    ("PUT", "/v1/cluster", b'{"action":"set-config","value":{"space":{"lowwm":"x"}}}'),
    ("PUT", "/v1/cluster", b'{"action":"set-config","value":"space.lowwm=1"}'),
    ("GET", "/v1/jobs/none", None),
    ("DELETE", "/v1/jobs", None),
    ("DELETE", "/v1/jobs/", None),
])
def test_bad_requests_are_4xx_json(c: httpx.Client, method: str, path: str, body: bytes | None) -> None:
    """Wrong paths, names, methods and values: always 4xx with {"message","status"}."""
    r = c.request(method, path, content=body)
    assert_4xx_json(r.status_code, r.content)


@pytest.mark.parametrize("path", ["/v1/objects/mal/obj?provider=s3", "/v1/buckets/mal?provider=gcp",
                                  "/v1/objects/mal/obj?provider=ht"])
def test_other_providers_are_refused_not_served_locally(c: httpx.Client, path: str) -> None:
    """`?provider=s3` names a remote bucket in AIStore; this store must not answer it from ais://mal."""
    r = c.get(path)
    assert r.status_code == 501 and r.json()["code"] == "NotImplemented" and "provider" in r.json()["message"]
    assert c.get("/v1/objects/mal/obj?provider=ais").content == b"payload"


@pytest.mark.parametrize("version", [b"9.9", b"2.0", b"0.9"])
def test_unknown_http_versions_get_505(shared_server: Server, version: bytes) -> None:
    """Only HTTP/1.0 and 1.1 are spoken; anything else is refused with 505 and a JSON reason."""
    status, _, body = raw(shared_server.port, b"GET /v1/health HTTP/" + version + b"\r\nHost: t\r\n\r\n")
    assert status == 505 and "not supported" in json.loads(body)["message"]


@pytest.mark.parametrize("section", ["versioning", "checksum", "lru"])
def test_empty_or_partial_section_cannot_break_a_bucket(c: httpx.Client, section: str) -> None:
    """`{"versioning": {}}` (or a section as a JSON string) changes nothing it does not name: PUTs keep working."""
    b = f"sect-{section}"
    create_bucket(c, b)
    before = bucket_props(c, b)
    r = act(c, "PATCH", f"/v1/buckets/{b}", "set-bprops", {section: {}})
    assert r.status_code in (200, 400), r.text
    assert bucket_props(c, b) == before
    r = act(c, "PATCH", f"/v1/buckets/{b}", "set-bprops", {section: "{}"})
    assert r.status_code in (200, 400), r.text
    assert bucket_props(c, b) == before
    r = act(c, "POST", f"/v1/buckets/{b}-new", "create-bck", {section: {}})
    assert r.status_code in (200, 400), r.text
    r = c.put(ourl(b, "after"), content=b"still works")
    assert r.status_code == 200, r.text
    assert c.get(ourl(b, "after")).content == b"still works"


@pytest.mark.parametrize("how", ["json", "query"])
def test_empty_or_partial_config_section_is_not_a_500(c: httpx.Client, how: str) -> None:
    """set-config with a section given as {} or as a partial JSON object: never 500, nothing else lost."""
    before = c.get("/v1/daemon", params={"what": "config"}).json()
    if how == "json":
        r = act(c, "PUT", "/v1/cluster", "set-config", {"space": {}})
    else:
        r = c.put("/v1/daemon/set-config", params={"space": "{}"})
    assert r.status_code in (200, 400), r.text
    after = c.get("/v1/daemon", params={"what": "config"}).json()
    assert after["space"] == before["space"]
    r = c.put("/v1/daemon/set-config", params={"space": '{"cleanupwm": 60}'})
    assert r.status_code in (200, 400), r.text
    space = c.get("/v1/daemon", params={"what": "config"}).json()["space"]
    assert set(space) == {"cleanupwm", "lowwm", "highwm", "out_of_space"} and space["lowwm"] == 75
    assert c.put(ourl("mal", "cfg-after"), content=b"ok").status_code == 200


def test_json_body_over_the_limit(shared_server: Server) -> None:
    """A JSON body declaring more than net.max_json_body is refused at once, without reading it."""
    t0 = time.monotonic()
    status, _, body = raw(shared_server.port, b"POST /v1/buckets/huge HTTP/1.1\r\nHost: t\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 16777217\r\n\r\n{\"action\":")
    assert_4xx_json(status, body)
    assert "limit" in json.loads(body)["message"]
    assert time.monotonic() - t0 < 5


def test_chunked_json_body_over_the_limit(shared_server: Server) -> None:
    """The limit holds for a chunked body with no declared length too."""
    with socket.create_connection(("127.0.0.1", shared_server.port), timeout=20) as s:
        s.sendall(b"POST /v1/buckets/huge2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * (1 << 20)
        try:
            for _ in range(18):
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass  # the server may answer and close before taking it all
        status, _, body = read_response(s.makefile("rb"))
    assert_4xx_json(status, body)


@pytest.mark.parametrize("size", [70_000, 300_000])
def test_oversized_headers(shared_server: Server, size: int) -> None:
    """Headers over 64 KiB: 431 (or 400) with JSON, then the connection closes."""
    status, _, body = raw(shared_server.port, b"GET /v1/health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
    assert status in (431, 400)
    assert_4xx_json(status, body)


def test_oversized_url(shared_server: Server) -> None:
    """A request line over the header limit is refused the same way."""
    status, _, body = raw(shared_server.port, b"GET /v1/objects/mal/" + b"k" * 70_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status in (431, 400, 414)
    assert_4xx_json(status, body)


@pytest.mark.parametrize("data", [b"HELLO\r\n\r\n", b"GET\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n",
                                  b"GET /v1/health HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
                                  b"GET /v1/health HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
                                  b"PUT /v1/objects/mal/x HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
                                  b"PUT /v1/objects/mal/x HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
                                  b"PUT /v1/objects/mal/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                  b"Content-Length: 6\r\n\r\nhello"])
def test_garbage_on_the_wire(shared_server: Server, data: bytes) -> None:
    """Garbage request lines and broken framing: 400 JSON."""
    status, _, body = raw(shared_server.port, data)
    assert_4xx_json(status, body)


def test_put_without_length_or_chunking(shared_server: Server) -> None:
    """A PUT with neither Content-Length nor chunked encoding is a 400 (an empty object needs Content-Length: 0)."""
    status, _, body = raw(shared_server.port, b"PUT /v1/objects/mal/nolen HTTP/1.1\r\nHost: t\r\n\r\n")
    assert_4xx_json(status, body)


@pytest.mark.parametrize("path", [b"/v1/buckets/malshort", b"/v1/objects/mal/obj"])
def test_body_shorter_than_declared_then_close(shared_server: Server, path: bytes) -> None:
    """A body cut short (client closes) leaves nothing behind and the server healthy."""
    method = b"POST" if b"buckets" in path else b"PUT"
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", shared_server.port), timeout=5) as s:
            s.sendall(method + b" " + path + b" HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"action\":")
    time.sleep(0.2)
    with shared_server.client() as c:
        assert c.head("/v1/buckets/malshort").status_code == 404


def test_half_sent_body_times_out_cleanly(tmp_path: Path) -> None:
    """A client that stalls mid-body gets a 4xx after request_body_idle instead of holding the server."""
    srv = Server(tmp_path / "data").start()
    try:
        with srv.client() as c:
            assert c.put("/v1/daemon/set-config", params={"timeout.request_body_idle": "1s"}).status_code == 200
        srv.restart()
        with srv.client() as c:
            create_bucket(c, "slow")
        t0 = time.monotonic()
        status, _, body = raw(srv.port, b"PUT /v1/objects/slow/x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc",
                              timeout=15)
        assert_4xx_json(status, body)
        assert time.monotonic() - t0 < 10
        with srv.client() as c:
            assert c.get(ourl("slow", "x")).status_code == 404
    finally:
        srv.stop()
