"""Helpers for the REST/engine test modules: key quoting, action envelopes, listing, jobs, raw HTTP."""
from __future__ import annotations

import json
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote

import httpx


def okey(key: str) -> str:
    """Percent-encode a key as docs/rest-api.md asks: `/` kept, `.`/`..` segments as %2E so nothing normalizes them."""
    return "/".join(seg.replace(".", "%2E") if seg in (".", "..") else quote(seg, safe="") for seg in key.split("/"))


def ourl(bucket: str, key: str) -> str:
    """The /v1 URL of one object."""
    return f"/v1/objects/{bucket}/{okey(key)}"


def act(c: httpx.Client, method: str, path: str, action: str, value: Any = None,
        params: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    """Send AIStore's `{"action","value"}` envelope."""
    body: dict[str, Any] = {"action": action, **extra}
    if value is not None:
        body["value"] = value
    return c.request(method, path, json=body, params=params)


def create_bucket(c: httpx.Client, name: str, props: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create a bucket, asserting success; returns its props."""
    r = act(c, "POST", f"/v1/buckets/{name}", "create-bck", props)
    assert r.status_code == 200, r.text
    return r.json()


def bucket_props(c: httpx.Client, name: str) -> dict[str, Any]:
    """Props as HEAD reports them in Ais-Bucket-Props."""
    r = c.head(f"/v1/buckets/{name}")
    assert r.status_code == 200, r.status_code
    return json.loads(r.headers["ais-bucket-props"])


def set_props(c: httpx.Client, name: str, value: dict[str, Any]) -> httpx.Response:
    """PATCH set-bprops."""
    return act(c, "PATCH", f"/v1/buckets/{name}", "set-bprops", value)


def list_page(c: httpx.Client, bucket: str, **msg: Any) -> dict[str, Any]:
    """One LsoRes page (asserting 200)."""
    r = act(c, "GET", f"/v1/buckets/{bucket}", "list", msg)
    assert r.status_code == 200, r.text
    return r.json()


def list_all(c: httpx.Client, bucket: str, **msg: Any) -> list[dict[str, Any]]:
    """Every entry, following continuation tokens page by page."""
    out: list[dict[str, Any]] = []
    token = ""
    for _ in range(100_000):
        page = list_page(c, bucket, **msg, continuation_token=token)
        out += page["entries"]
        token = page["continuation_token"]
        if not token:
            return out
    raise AssertionError("listing never ended")


def names(entries: Iterable[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in entries]


def wait_job(c: httpx.Client, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """GET /v1/jobs/ID?wait=... and assert the job finished."""
    r = c.get(f"/v1/jobs/{job_id}", params={"wait": str(timeout)}, timeout=timeout + 10)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["finished"] and not job["running"], job
    return job


def assert_error(r: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """The error contract: the status, and JSON {"message","status"} whose message mentions `words`."""
    assert r.status_code == status, (r.status_code, r.text)
    doc = r.json()
    assert doc["status"] == status and isinstance(doc["message"], str) and doc["message"], doc
    for w in words:
        assert w.lower() in doc["message"].lower(), (w, doc["message"])
    return doc


def read_response(f: Any) -> tuple[int, dict[str, str], bytes]:
    """Parse one HTTP/1.1 response (Content-Length framed) from a socket file."""
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed before a response")
    status = int(line.split()[1])
    headers: dict[str, str] = {}
    while (h := f.readline()) not in (b"\r\n", b""):
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    if status < 200 or status in (204, 304):
        return status, headers, b""
    body = f.read(int(headers.get("content-length", "0")))
    return status, headers, body


def raw(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes on a fresh connection and parse the first final response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        f = s.makefile("rb")
        while True:
            status, headers, body = read_response(f)
            if status >= 200:
                return status, headers, body


def pipelined_puts(port: int, bucket: str, keys: list[str], body: Callable[[str], bytes]) -> list[int]:
    """PUT many small objects pipelined on one connection: fast enough to fill a bucket with 10,000 objects."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)

    def send() -> None:
        buf = bytearray()
        for k in keys:
            b = body(k)
            buf += f"PUT {ourl(bucket, k)} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(b)}\r\n\r\n".encode() + b
            if len(buf) > 1 << 16:
                s.sendall(buf)
                buf = bytearray()
        s.sendall(buf)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        f = s.makefile("rb")
        return [read_response(f)[0] for _ in keys]
    finally:
        sender.join()
        s.close()


def fill(port: int, bucket: str, keys: list[str], body: Callable[[str], bytes], conns: int = 4) -> None:
    """PUT `keys` over `conns` pipelined connections, asserting every answer is 200."""
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda part=keys[i::conns]: results.append(pipelined_puts(port, bucket, part, body)))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r) for r in results) == len(keys)
    assert {c for r in results for c in r} == {200}


def data_file(data_dir: Path, bid: str, key: str) -> Path:
    """Where the index says an object's data lives: `<mountpath>/%ob/<fid[:2]>/<fid[2:4]>/<fid>`."""
    db = sqlite3.connect(f"file:{data_dir / 'index.db'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT m.path, o.fid FROM objects o JOIN mountpaths m ON m.id = o.mp "
                         "WHERE o.bid=? AND o.key=?", (bid, key)).fetchone()
    finally:
        db.close()
    assert row is not None, f"{key!r} not in the index"
    mp, fid = row
    return Path(mp) / "%ob" / fid[:2] / fid[2:4] / fid


def mountpaths_of(data_dir: Path) -> dict[int, Path]:
    """Mountpath ids and paths from the index."""
    db = sqlite3.connect(f"file:{data_dir / 'index.db'}?mode=ro", uri=True)
    try:
        return {i: Path(p) for i, p in db.execute("SELECT id, path FROM mountpaths")}
    finally:
        db.close()
