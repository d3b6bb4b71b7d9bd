"""Remote mode does in one /v1 call what embedded mode does in one engine call: a directory rename is the
server's one-transaction `rename-prefix`, chmod/utimes/xattrs a metadata PATCH (no re-upload). Also: implicit
directories in remote listings, a rename past 1024 bytes in both modes, and how `aisfs mount` picks its mode."""
from __future__ import annotations

import errno
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from fuse_support import Mount, cleanup, is_mounted
from restkit import fill, list_all, names, ourl
from support import Server, aisfs_cmd

BUCKET = "rb"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("fuseremoteops")
    try:
        yield path
    finally:
        cleanup(path)


@pytest.fixture(scope="module")
def srv(base: Path) -> Iterator[Server]:
    server = Server(base / "srvdata").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def rest(srv: Server) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


@pytest.fixture(scope="module")
def remote(base: Path, srv: Server) -> Iterator[Mount]:
    m = Mount(base / "remote", BUCKET, "--endpoint", srv.url, "--create-bucket", "--metadata-ttl", "0",
              data_dir=base / "staging")
    try:
        yield m.start()
    finally:
        m.stop()


@pytest.fixture(scope="module")
def embedded(base: Path) -> Iterator[Mount]:
    m = Mount(base / "embedded", "eb", "--create-bucket", "--metadata-ttl", "0")
    try:
        yield m.start()
    finally:
        m.stop()


def counters(rest: httpx.Client) -> dict[str, int]:
    return rest.get("/v1/daemon", params={"what": "stats"}).json()["counters"]


def test_directory_mv_is_one_server_transaction(remote: Mount, srv: Server, rest: httpx.Client) -> None:
    """While a client lists the bucket over REST in a loop, `mv dir new` never shows it half moved."""
    keys = [f"big/{i:04d}" for i in range(400)]
    fill(srv.port, BUCKET, keys, lambda k: k.encode())
    before = counters(rest)
    seen: list[list[str]] = []
    stop = threading.Event()

    def watch() -> None:
        with srv.client() as c:
            while not stop.is_set():
                seen.append(names(list_all(c, BUCKET, prefix="", props="name")))

    def listings(n: int) -> None:
        deadline = time.monotonic() + 30
        while len(seen) < n and watcher.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(seen) >= n, "the watcher stopped listing"

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        listings(2)
        os.rename(remote.path("big"), remote.path("moved"))
        listings(len(seen) + 2)
    finally:
        stop.set()
        watcher.join()
    moved = [k.replace("big/", "moved/") for k in keys]
    for listing in seen:
        ours = [k for k in listing if k.startswith(("big/", "moved/"))]
        assert ours in (keys, moved), f"a listing saw {sum(k.startswith('big/') for k in ours)} old and " \
                                      f"{sum(k.startswith('moved/') for k in ours)} new names"
    assert sorted(os.listdir(remote.path("moved"))) == [k[4:] for k in keys]
    assert remote.path("moved", "0399").read_bytes() == b"big/0399"
    assert not remote.path("big").exists()
    after = counters(rest)
    for c in ("ren.n", "put.n", "del.n"):  # no per-object renames or copies behind the mv
        assert after.get(c, 0) == before.get(c, 0), c


def test_s3_metadata_any_value_survives_a_remote_chmod(remote: Mount, rest: httpx.Client) -> None:
    """S3 user metadata reaches a remote mount through /v1's Ais-Custom-Md; values with `,` `=` `%` used to
    come back cut at the comma, and a chmod then wrote the cut value back."""
    meta = {"x-amz-meta-tags": "cats,dogs", "x-amz-meta-note": "k=v; 100%"}
    assert rest.put(f"/{BUCKET}/meta/s3.bin", content=b"body", headers=meta).status_code == 200  # anonymous S3
    p = remote.path("meta", "s3.bin")
    assert os.getxattr(p, "user.meta.tags") == b"cats,dogs"
    assert os.getxattr(p, "user.meta.note") == b"k=v; 100%"
    os.chmod(p, 0o600)
    h = rest.head(f"/{BUCKET}/meta/s3.bin").headers
    assert h["x-amz-meta-tags"] == "cats,dogs" and h["x-amz-meta-note"] == "k=v; 100%"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_chmod_utimes_xattr_rewrite_no_data(remote: Mount, srv: Server, rest: httpx.Client) -> None:
    data = os.urandom(24 << 20)
    assert rest.put(ourl(BUCKET, "meta/big.bin"), content=data).status_code == 200
    head = rest.head(ourl(BUCKET, "meta/big.bin")).headers
    before = counters(rest)
    p = remote.path("meta", "big.bin")
    os.chmod(p, 0o640)
    os.utime(p, ns=(1_500_000_000_123_456_789, 1_500_000_000_123_456_789))
    os.setxattr(p, "user.meta.color", b"blue")
    after = counters(rest)
    for c in ("put.n", "get.n"):  # nothing read back or uploaded again
        assert after.get(c, 0) == before.get(c, 0), c
    now = rest.head(ourl(BUCKET, "meta/big.bin")).headers
    for h in ("ais-version", "ais-checksum-value", "etag"):
        assert now[h] == head[h], h
    assert "color=blue" in now["ais-custom-md"]
    remote.restart()
    st = os.stat(p)
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_mtime_ns == 1_500_000_000_123_456_789
    assert os.getxattr(p, "user.meta.color") == b"blue"
    for name, value in (("list", b"a,b"), ("pair", b"k=v"), ("pct", b" 50% ")):  # Ais-Custom-Md encodes these
        os.setxattr(p, f"user.meta.{name}", value)
    remote.restart()
    for name, value in (("list", b"a,b"), ("pair", b"k=v"), ("pct", b" 50% ")):
        assert os.getxattr(p, f"user.meta.{name}") == value
    os.removexattr(p, "user.meta.color")
    assert "user.meta.color" not in os.listxattr(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640  # removing one key kept the others
    assert p.read_bytes() == data


def test_implicit_directories_in_remote_listing(remote: Mount, rest: httpx.Client) -> None:
    """Folded `dir/` entries (EntryIsDir) are directories, whether or not a marker exists."""
    for key in ("imp/a/x", "imp/b/c/y", "imp/marked/", "imp/file"):
        assert rest.put(ourl(BUCKET, key), content=b"1").status_code == 200
    assert sorted(os.listdir(remote.path("imp"))) == ["a", "b", "file", "marked"]
    for name in ("a", "b", "marked"):
        assert stat.S_ISDIR(os.stat(remote.path("imp", name)).st_mode), name
    assert stat.S_ISREG(os.stat(remote.path("imp", "file")).st_mode)
    assert os.listdir(remote.path("imp", "b")) == ["c"]
    assert [e.name for e in os.scandir(remote.path("imp", "b")) if e.is_dir()] == ["c"]


@pytest.mark.parametrize("mode", ["embedded", "remote"])
def test_dir_rename_past_1024_bytes_is_enametoolong(mode: str, request: pytest.FixtureRequest) -> None:
    m: Mount = request.getfixturevalue(mode)
    parts = ["long", "a" * 250, "b" * 250, "c" * 250]
    leaf = m.path(*parts)
    leaf.mkdir(parents=True)
    (leaf / ("f" * 250)).write_bytes(b"deep")  # key: 1010 bytes
    tree = sorted(str(p.relative_to(m.mnt)) for p in m.path("long").rglob("*"))
    with pytest.raises(OSError) as err:
        os.rename(m.path("long"), m.path("long" + "x" * 20))
    assert err.value.errno == errno.ENAMETOOLONG
    assert sorted(str(p.relative_to(m.mnt)) for p in m.path("long").rglob("*")) == tree
    assert (leaf / ("f" * 250)).read_bytes() == b"deep"
    assert not m.path("long" + "x" * 20).exists()
    os.rename(m.path("long"), m.path("lo"))  # shorter: fine
    assert m.path("lo", *parts[1:], "f" * 250).read_bytes() == b"deep"
    target = m.path("lo" + "y" * 20)
    target.mkdir()  # an empty directory the refused move would have replaced
    with pytest.raises(OSError) as err:
        os.rename(m.path("lo"), target)
    assert err.value.errno == errno.ENAMETOOLONG
    assert target.is_dir() and list(target.iterdir()) == []


# how `aisfs mount` picks its mode and parses its source -------------------------------------------------
class CliMount(Mount):
    """A mount started with exactly these CLI words (no --data-dir added), to test how the mode is chosen."""

    def __init__(self, base: Path, *words: str, before: tuple[str, ...] = ()) -> None:
        super().__init__(base, "")
        self.words, self.before = words, before

    def cmd(self, *more: str) -> list[str]:
        return aisfs_cmd(*self.before, "mount", str(self.mnt), *self.words, "--log-file", str(self.log), *more)


def test_mount_takes_global_endpoint_env_and_ais_uri(base: Path, srv: Server, rest: httpx.Client,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIS_ENDPOINT", "http://127.0.0.1:9")  # a global --endpoint beats it
    m: Any = CliMount(base / "global", "ais://", before=("--endpoint", srv.url))
    try:
        m.start()
        assert BUCKET in os.listdir(m.mnt)  # remote, every bucket
    finally:
        m.stop()
    assert not is_mounted(m.mnt)
    # $AIS_ENDPOINT picks remote mode as for every command (even with $AISFS_DATA_DIR: there it stages)
    monkeypatch.setenv("AIS_ENDPOINT", srv.url)
    monkeypatch.setenv("AISFS_DATA_DIR", str(base / "env-staging"))
    m = CliMount(base / "env", f"ais://{BUCKET}/pre/fix/")
    try:
        m.start()
        m.path("new.txt").write_bytes(b"via env")
        assert rest.get(ourl(BUCKET, "pre/fix/new.txt")).content == b"via env"
    finally:
        m.stop()
    bad = CliMount(base / "bad", "s3://elsewhere")
    try:
        with pytest.raises(RuntimeError, match="only ais:// buckets are supported"):
            bad.start()
    finally:
        bad.stop()
