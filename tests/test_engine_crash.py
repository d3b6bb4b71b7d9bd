"""Crash safety and data integrity through the real server: kill -9 mid-PUT, dropped clients,
and on-disk corruption caught by checksum validation."""
from __future__ import annotations

import os
import random
import resource
import socket
import threading
import time
from pathlib import Path

import httpx
import xxhash

from restkit import (act, assert_error, bucket_props, create_bucket, data_file, fill, list_all, names, ourl, set_props,
                     wait_job)
from support import Server

WRITERS = 20


def content(key: str) -> bytes:
    """Distinct, reproducible bytes per key (2-4 MiB), so a test can tell whole from partial."""
    rnd = random.Random(key)
    return rnd.randbytes(rnd.randint(2 << 20, 4 << 20))


def work_files(data_dir: Path) -> list[Path]:
    """Whatever is left in the default mountpath's work directory."""
    return list((data_dir / "mpath" / "%wk").iterdir())


def wait_no_work_files(data_dir: Path, timeout: float = 10.0) -> None:
    """Aborted uploads remove their work file once the server notices; poll for it."""
    deadline = time.monotonic() + timeout
    while work_files(data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert work_files(data_dir) == []


def test_kill9_during_concurrent_puts(server: Server) -> None:
    """After kill -9 amid 20 concurrent PUTs: every acknowledged object intact, nothing partial, no work files."""
    with server.client() as c:
        create_bucket(c, "crash")
        assert c.put(ourl("crash", "hot"), content=content("hot-0")).status_code == 200
    acked: dict[str, bytes] = {"hot": content("hot-0")}
    hot_versions = {content("hot-0")}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as wc:
            for j in range(1000):
                key = f"w{i:02d}/{j:04d}"
                data = content(key)
                hot = j % 4 == 3
                if hot:  # several writers also overwrite one shared key
                    data = content(f"hot-{i}-{j}")
                    with lock:
                        hot_versions.add(data)
                try:
                    r = wc.put(ourl("crash", "hot" if hot else key), content=data)
                except httpx.HTTPError:
                    return
                if r.status_code != 200 or stop.is_set():
                    return
                with lock:
                    if hot:
                        acked["hot"] = data  # the last acknowledged overwrite, or a later in-flight one, survives
                    else:
                        acked[key] = data

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 40, "the writers made too little progress before the kill"

    server.start()
    assert work_files(server.data_dir) == []
    with server.client() as c:
        listed = list_all(c, "crash")
        listed_names = names(listed)
        assert set(acked) <= set(listed_names)
        for e in listed:
            key = e["name"]
            data = c.get(ourl("crash", key)).content
            if key == "hot":
                assert data in hot_versions
            else:
                assert data == content(key), f"{key}: partial or foreign bytes after the crash"
            assert e["size"] == len(data)
            assert e["checksum"] == xxhash.xxh3_64(data).hexdigest()
        for key, data in acked.items():
            if key != "hot":
                h = c.head(ourl("crash", key))
                assert h.headers["ais-checksum-value"] == xxhash.xxh3_64(data).hexdigest()


def put_and_drop(port: int, path: str, total: int, sent: bytes, *, chunked: bool = False) -> None:
    """Start a PUT declaring `total` bytes, send only `sent`, then close the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n".encode())
        s.sendall(b"%x\r\n" % len(sent) + sent + b"\r\n" if chunked else sent)
        time.sleep(0.2)


def test_dropped_client_keeps_previous_version(server: Server) -> None:
    """A client that disconnects mid-body leaves the previous version, no partial object, no work file."""
    with server.client() as c:
        create_bucket(c, "drop")
        old = os.urandom(100_000)
        assert c.put(ourl("drop", "obj"), content=old).status_code == 200
        put_and_drop(server.port, ourl("drop", "obj"), 4 << 20, os.urandom(1 << 20))
        put_and_drop(server.port, ourl("drop", "obj"), 0, os.urandom(700_000), chunked=True)
        put_and_drop(server.port, ourl("drop", "fresh"), 3 << 20, os.urandom(2 << 20))
        wait_no_work_files(server.data_dir)
        g = c.get(ourl("drop", "obj"))
        assert g.content == old and g.headers["ais-version"] == "1"
        assert_error(c.get(ourl("drop", "fresh")), 404)
        assert [(e["name"], e["size"]) for e in list_all(c, "drop")] == [("obj", len(old))]
        assert c.get("/v1/health").status_code == 200


def test_corrupted_data_is_never_served(server: Server) -> None:
    """A flipped byte on disk is caught by validate_warm_get: 5xx with a clear message, never the bad bytes."""
    with server.client() as c:
        create_bucket(c, "rot")
        data = os.urandom(3 << 20)
        assert c.put(ourl("rot", "victim"), content=data).status_code == 200
        assert c.put(ourl("rot", "bystander"), content=b"fine").status_code == 200
        path = data_file(server.data_dir, bucket_props(c, "rot")["bid"], "victim")
        with open(path, "r+b") as f:
            f.seek(len(data) // 2)
            b = f.read(1)
            f.seek(len(data) // 2)
            f.write(bytes([b[0] ^ 0xFF]))
        assert set_props(c, "rot", {"checksum.validate_warm_get": True}).status_code == 200
        for headers in ({}, {"Range": "bytes=0-99"}):
            r = c.get(ourl("rot", "victim"), headers=headers)
            assert 500 <= r.status_code < 600, r.status_code
            doc = r.json()
            assert doc["status"] == r.status_code and "checksum" in doc["message"].lower(), doc
            assert data[:100] not in r.content
        assert c.get(ourl("rot", "bystander")).content == b"fine"
        assert c.get("/v1/health").status_code == 200


def test_truncated_data_file_is_refused(server: Server) -> None:
    """A data file whose size no longer matches its metadata is refused even without validation."""
    with server.client() as c:
        create_bucket(c, "trunc")
        data = os.urandom(500_000)
        c.put(ourl("trunc", "t"), content=data)
        path = data_file(server.data_dir, bucket_props(c, "trunc")["bid"], "t")
        os.truncate(path, 1000)
        r = c.get(ourl("trunc", "t"))
        assert 500 <= r.status_code < 600 and r.json()["message"], r.status_code
        assert data[:1000] not in r.content


def open_fds(srv: Server) -> int:
    """How many file descriptors the server process holds."""
    assert srv.proc is not None
    return len(os.listdir(f"/proc/{srv.proc.pid}/fd"))


def test_dropped_clients_leak_no_descriptors(server: Server) -> None:
    """Clients that vanish mid-download or mid-upload leave no open data or work files behind."""
    with server.client() as c:
        create_bucket(c, "leak")
        assert c.put(ourl("leak", "big"), content=os.urandom(32 << 20)).status_code == 200
        # read once in full first: the engine keeps a recently read data file open for the next read
        assert len(c.get(ourl("leak", "big")).content) == 32 << 20
    time.sleep(0.2)
    before = open_fds(server)
    for _ in range(12):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(f"GET {ourl('leak', 'big')} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            s.recv(65536)
        put_and_drop(server.port, ourl("leak", "up"), 8 << 20, os.urandom(1 << 20))
    deadline = time.monotonic() + 10
    while open_fds(server) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(server) <= before
    wait_no_work_files(server.data_dir)
    with server.client() as c:
        assert c.get("/v1/health").status_code == 200
        assert c.get(ourl("leak", "up")).status_code == 404


def test_server_raises_its_open_files_limit(tmp_path: Path) -> None:
    """Started under a soft limit of 1024 open files (a common default), the server raises it towards the
    hard limit, so kept data files and connections do not run out of descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    srv = Server(tmp_path / "data")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, want), hard))
    try:
        srv.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        assert srv.proc is not None
        limits = Path(f"/proc/{srv.proc.pid}/limits").read_text().splitlines()
        (line,) = [x for x in limits if x.startswith("Max open files")]
        assert int(line.split()[3]) == want
    finally:
        srv.stop()


def unlinked_data_files_held(srv: Server) -> list[str]:
    """Data files the server still holds open after they were unlinked: their space is not freed."""
    assert srv.proc is not None
    held = []
    for fd in os.listdir(f"/proc/{srv.proc.pid}/fd"):
        try:
            target = os.readlink(f"/proc/{srv.proc.pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if "/%ob/" in target and target.endswith(" (deleted)"):
            held.append(target)
    return held


def test_read_data_files_are_let_go_with_their_objects(server: Server) -> None:
    """The engine keeps recently read data files open for the next read; a delete, an overwrite or a
    destroyed bucket still frees their space, and reads see the new data at once."""
    with server.client() as c:
        for b in ("hold", "doomed"):
            create_bucket(c, b)
        for b, k in (("hold", "gone"), ("hold", "over"), ("hold", "kept"), ("doomed", "x")):
            assert c.put(ourl(b, k), content=content(k)).status_code == 200
            assert c.get(ourl(b, k)).content == content(k)
        assert c.delete(ourl("hold", "gone")).status_code == 200
        assert c.put(ourl("hold", "over"), content=b"new").status_code == 200
        assert act(c, "DELETE", "/v1/buckets/doomed", "destroy-bck").status_code == 200
        assert c.get(ourl("hold", "over")).content == b"new"
        assert c.get(ourl("hold", "gone")).status_code == 404
        assert c.get(ourl("hold", "kept")).content == content("kept")
    deadline = time.monotonic() + 10
    while unlinked_data_files_held(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert unlinked_data_files_held(server) == []


def test_kill9_during_jobs(server: Server) -> None:
    """kill -9 amid a copy-bck and a delete-listrange: after restart every copy is whole and every survivor intact."""
    keys = [f"j/{i:04d}" for i in range(400)]
    body = lambda k: (k.encode() * 8000)[:60_000]  # noqa: E731 - distinct, reproducible bytes per key
    with server.client() as c:
        create_bucket(c, "jsrc")
        create_bucket(c, "jdel")
        fill(server.port, "jsrc", keys, body)
        fill(server.port, "jdel", keys, body)
        copy = act(c, "POST", "/v1/buckets/jsrc", "copy-bck", {}, params={"bck_to": "jdst"}).text
        dele = act(c, "DELETE", "/v1/buckets/jdel", "delete-listrange", {"template": "j/{0000..0399}"}).text
        deadline = time.monotonic() + 10
        while c.get(f"/v1/jobs/{copy}").json()["objs"] < 20 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert c.get(f"/v1/jobs/{copy}").json()["running"], "the copy finished before the kill: make it longer"
        assert c.get(f"/v1/jobs/{dele}").json()
    server.kill9()
    server.start()
    assert work_files(server.data_dir) == []
    with server.client() as c:
        assert names(list_all(c, "jsrc")) == keys
        copied = names(list_all(c, "jdst"))
        assert 20 <= len(copied) < len(keys) and set(copied) <= set(keys)
        for k in copied:
            assert c.get(ourl("jdst", k)).content == body(k)
        for k in names(list_all(c, "jdel")):
            assert c.get(ourl("jdel", k)).content == body(k)


def test_copies_never_launder_corruption(server: Server) -> None:
    """copy-obj and copy-bck of a corrupted object fail for it instead of making a copy with a fresh, valid checksum."""
    with server.client() as c:
        create_bucket(c, "lsrc")
        create_bucket(c, "ldst", {"checksum.type": "sha256"})
        data = os.urandom(1 << 20)
        for k in ("bad", "good"):
            assert c.put(ourl("lsrc", k), content=data).status_code == 200
        path = data_file(server.data_dir, bucket_props(c, "lsrc")["bid"], "bad")
        with open(path, "r+b") as f:
            f.seek(12345)
            f.write(bytes([data[12345] ^ 0x01]))
        for dst in ("lsrc", "ldst"):
            r = act(c, "POST", ourl("lsrc", "bad"), "copy-obj", {"bucket": dst}, name="bad-copy")
            assert 500 <= r.status_code < 600 and "checksum" in r.json()["message"].lower(), r.text
            assert_error(c.get(ourl(dst, "bad-copy")), 404)
        job = wait_job(c, act(c, "POST", "/v1/buckets/lsrc", "copy-bck", {}, params={"bck_to": "lall"}).text)
        assert job["objs"] == 1 and job["err_count"] == 1 and "bad" in job["errors"][0]
        assert names(list_all(c, "lall")) == ["good"]
        assert c.get(ourl("lall", "good")).content == data
        wait_no_work_files(server.data_dir)


def test_orphan_data_files_are_removed_at_start(server: Server) -> None:
    """A file left in %ob by a crash between rename and index commit is reclaimed on the next start."""
    with server.client() as c:
        create_bucket(c, "orphans")
        assert c.put(ourl("orphans", "kept"), content=b"still here").status_code == 200
        bid = bucket_props(c, "orphans")["bid"]
    kept = data_file(server.data_dir, bid, "kept")
    orphan = kept.parent.parent / "zz" / "zzzzzzzzzzzzzzzzzzzzzzzz"
    server.kill9()
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x" * 4096)
    server.start()
    with server.client() as c:
        job = next(j for j in c.get("/v1/jobs", params={"kind": "cleanup-store"}).json())
        done = wait_job(c, job["id"])
        assert done["objs"] == 1 and done["bytes"] == 4096 and not done["errors"]
        assert c.get(ourl("orphans", "kept")).content == b"still here"
    assert not orphan.exists()
    assert kept.exists()


def test_only_a_start_after_a_crash_looks_for_orphans(server: Server) -> None:
    """After a clean stop nothing can be orphaned, so a restart skips the store scan (220,000 data files
    took it ~10 s of disk reads); after kill -9 it runs."""
    def cleanup_jobs() -> list[dict]:
        with server.client() as c:
            return c.get("/v1/jobs", params={"kind": "cleanup-store"}).json()

    assert len(cleanup_jobs()) == 1  # a fresh data dir: no mark, so it looks
    server.stop()
    server.start()
    assert cleanup_jobs() == []
    server.kill9()
    server.start()
    assert len(cleanup_jobs()) == 1
