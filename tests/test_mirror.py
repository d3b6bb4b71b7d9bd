"""N-way mirror over /v1 and S3 on a server with several mountpaths: copies on distinct disks, reads that
survive a lost disk or a rotten copy, make-n-copies both ways, deletes that take every copy, a
crash leftover copy cleaned at start-up, and copies between mountpaths on different file systems."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
import trio

from engine.core import Engine
from fuse_support import cleanup, mounted, with_engine
from restkit import act, assert_error, bucket_props, create_bucket, data_file, list_all, ourl, set_props, wait_job
from s3kit import client, keyed_server
from support import Server, run_cli, tmpfs

MIRRORED = {"mirror": {"enabled": True, "copies": 2}}


def _files(mp: Path) -> dict[str, bytes]:
    """Data file id -> content of every data file on a mountpath; one the reaper removes while this looks
    is not there."""
    out = {}
    for p in (mp / "%ob").glob("*/*/*"):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            out[p.name] = p.read_bytes()
    return out


def _body(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest() * 300 + key.encode()


@pytest.fixture
def disks(tmp_path: Path) -> list[Path]:
    """Three mountpath directories (as if three disks); each test attaches the ones it wants."""
    return [tmp_path / f"disk{i}" for i in range(3)]


@pytest.fixture
def two_disk_server(tmp_path: Path, disks: list[Path]) -> Iterator[Server]:
    srv = Server(tmp_path / "data", "--mountpath", str(disks[0]), "--mountpath", str(disks[1])).start()
    try:
        yield srv
    finally:
        srv.stop()


def _put_all(c: httpx.Client, bucket: str, keys: list[str]) -> None:
    for k in keys:
        assert c.put(ourl(bucket, k), content=_body(k)).status_code == 200


def _wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    """Data files of a deleted or replaced version go a moment after the answer (the engine's reaper)."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_every_write_lands_on_two_disks(two_disk_server: Server, disks: list[Path]) -> None:
    keys = [f"d/{i:03d}" for i in range(20)]
    with two_disk_server.client() as c:
        create_bucket(c, "mir", MIRRORED)
        _put_all(c, "mir", keys)
        r = c.head(ourl("mir", keys[0]))
        assert r.headers["ais-mirror-copies"] == "2"
        assert all(str(d.resolve()) in r.headers["ais-mirror-paths"] for d in disks[:2])
        # a copy (S3 CopyObject's path) and a rename keep two copies too
        assert act(c, "POST", ourl("mir", keys[0]), "copy-obj", name="copied").status_code == 200
        assert act(c, "POST", ourl("mir", keys[1]), "rename-obj", name="renamed").status_code == 200
        assert c.head(ourl("mir", "copied")).headers["ais-mirror-copies"] == "2"
        assert c.head(ourl("mir", "renamed")).headers["ais-mirror-copies"] == "2"
    a, b = _files(disks[0]), _files(disks[1])
    assert set(a) == set(b) and len(a) == 21   # same data file ids on both disks: 20 objects and the copy
    assert all(a[f] == b[f] for f in a)
    assert sorted(a.values()) == sorted([_body(k) for k in keys] + [_body(keys[0])])


def test_s3_put_and_multipart_are_mirrored(tmp_path: Path, disks: list[Path]) -> None:
    srv = keyed_server(tmp_path / "data", "--mountpath", str(disks[0]), "--mountpath", str(disks[1]))
    try:
        with srv.client() as c:
            create_bucket(c, "s3mir", MIRRORED)
        s3 = client(f"{srv.url}/s3")
        s3.put_object(Bucket="s3mir", Key="small", Body=b"x" * 1000)
        part = os.urandom(5 << 20)
        up = s3.create_multipart_upload(Bucket="s3mir", Key="big")["UploadId"]
        etags = [s3.upload_part(Bucket="s3mir", Key="big", UploadId=up, PartNumber=n, Body=part)["ETag"]
                 for n in (1, 2)]
        s3.complete_multipart_upload(Bucket="s3mir", Key="big", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags)]})
        assert s3.get_object(Bucket="s3mir", Key="big")["Body"].read() == part * 2
        _wait_until(lambda: len(_files(disks[0])) == len(_files(disks[1])) == 2)  # the parts are gone
        assert sorted(_files(disks[0]).values()) == sorted([b"x" * 1000, part * 2])
        assert _files(disks[0]) == _files(disks[1])
    finally:
        srv.stop()


def test_reads_survive_a_lost_disk_and_a_new_disk_gets_the_copies(
        tmp_path: Path, disks: list[Path]) -> None:
    keys = [f"k{i:02d}" for i in range(15)]
    srv = Server(tmp_path / "data", "--mountpath", str(disks[0]), "--mountpath", str(disks[1])).start()
    try:
        with srv.client() as c:
            create_bucket(c, "mir", MIRRORED)
            _put_all(c, "mir", keys)
        # disk0 is gone; a new, empty disk2 takes its place
        srv.extra = ["--mountpath", str(disks[1]), "--mountpath", str(disks[2])]
        srv.restart()
        with srv.client() as c:
            for k in keys:
                r = c.get(ourl("mir", k))
                assert r.status_code == 200 and r.content == _body(k)
            # a changed set of mountpaths starts make-n-copies for every mirrored bucket (AIStore's resilver)
            jobs = c.get("/v1/jobs", params={"kind": "make-n-copies"}).json()
            assert [j["bucket"] for j in jobs] == ["mir"]
            job = wait_job(c, jobs[0]["id"])
            assert job["errors"] == [] and job["objs"] == len(keys)
            assert c.head(ourl("mir", keys[0])).headers["ais-mirror-copies"] == "2"
        assert _files(disks[1]) == _files(disks[2]) and len(_files(disks[2])) == len(keys)
        # now disk1 goes too: disk2's copies carry every object
        srv.extra = ["--mountpath", str(disks[2])]
        srv.restart()
        with srv.client() as c:
            for k in keys:
                r = c.get(ourl("mir", k))
                assert r.status_code == 200 and r.content == _body(k)
    finally:
        srv.stop()


def test_without_a_mirror_a_lost_disk_loses_its_objects(tmp_path: Path, disks: list[Path]) -> None:
    """The other side of the test above: what the mirror is for."""
    keys = [f"k{i:02d}" for i in range(15)]
    srv = Server(tmp_path / "data", "--mountpath", str(disks[0]), "--mountpath", str(disks[1])).start()
    try:
        with srv.client() as c:
            create_bucket(c, "plain")
            _put_all(c, "plain", keys)
        srv.extra = ["--mountpath", str(disks[1])]
        srv.restart()
        with srv.client() as c:
            codes = {c.get(ourl("plain", k)).status_code for k in keys}
        assert codes == {200, 503}   # HRW put some on each disk; those on disk0 are unavailable
    finally:
        srv.stop()


@pytest.mark.parametrize("read_first", [False, True], ids=["unread", "read-first"])
@pytest.mark.parametrize("damage", ["rot", "missing"])
def test_a_bad_copy_is_served_around_and_rewritten(two_disk_server: Server, damage: str, read_first: bool) -> None:
    """`read-first`: the data file was read just before it was damaged, so the engine still holds it open."""
    with two_disk_server.client() as c:
        create_bucket(c, "rot", {**MIRRORED, "checksum": {"validate_warm_get": True}})
        body = _body("victim")
        assert c.put(ourl("rot", "victim"), content=body).status_code == 200
        if read_first:
            assert c.get(ourl("rot", "victim")).content == body
        bid = bucket_props(c, "rot")["bid"]
        path = data_file(two_disk_server.data_dir, bid, "victim")
        if damage == "rot":   # same size, one byte changed: only the checksum can tell
            with open(path, "r+b") as f:
                f.seek(100)
                f.write(bytes([body[100] ^ 0xFF]))
        else:
            path.unlink()
        r = c.get(ourl("rot", "victim"))
        assert r.status_code == 200 and r.content == body
        assert path.read_bytes() == body    # rewritten from the good copy
        assert c.get(ourl("rot", "victim")).content == body   # from the rewritten file: no second failover
        stats = c.get("/v1/daemon", params={"what": "stats"}).json()["counters"]
        assert stats["mirror.failover.n"] == 1 and stats["mirror.repaired.n"] == 1


def test_a_rotten_object_without_a_good_copy_is_refused(two_disk_server: Server, disks: list[Path]) -> None:
    with two_disk_server.client() as c:
        create_bucket(c, "rot2", {**MIRRORED, "checksum": {"validate_warm_get": True}})
        assert c.put(ourl("rot2", "o"), content=b"a" * 5000).status_code == 200
        for d in disks[:2]:
            for p in (d / "%ob").glob("*/*/*"):
                p.write_bytes(b"b" * 5000)
        assert_error(c.get(ourl("rot2", "o")), 500, "BAD DATA CHECKSUM")


def test_make_n_copies_adds_then_removes(two_disk_server: Server, disks: list[Path]) -> None:
    keys = [f"k{i:02d}" for i in range(30)]
    with two_disk_server.client() as c:
        create_bucket(c, "grow")
        _put_all(c, "grow", keys)
        assert len(_files(disks[0])) + len(_files(disks[1])) == 30   # HRW spread, one copy each
        # turning the mirror on through the props starts the same job
        assert set_props(c, "grow", {"mirror.enabled": True}).status_code == 200
        jobs = c.get("/v1/jobs", params={"kind": "make-n-copies"}).json()
        job = wait_job(c, jobs[-1]["id"])
        assert job["errors"] == [] and job["objs"] == 30
        assert _files(disks[0]) == _files(disks[1]) and len(_files(disks[0])) == 30
        listed = list_all(c, "grow", props="name,size,copies,location")
        assert [e["name"] for e in listed] == keys and {e["copies"] for e in listed} == {2}
        assert all(e["location"] in (str(disks[0]), str(disks[1])) for e in listed)
        r = act(c, "POST", "/v1/buckets/grow", "make-n-copies", 1)
        assert wait_job(c, r.text)["errors"] == []
        mirror = bucket_props(c, "grow")["mirror"]
        assert (mirror["enabled"], mirror["copies"]) == (False, 1)
        _wait_until(lambda: len(_files(disks[0])) + len(_files(disks[1])) == 30)
        for k in keys:
            assert c.get(ourl("grow", k)).content == _body(k)
        assert {e["copies"] for e in list_all(c, "grow", props="name,copies")} == {1}


def test_delete_and_overwrite_take_every_copy(two_disk_server: Server, disks: list[Path]) -> None:
    with two_disk_server.client() as c:
        create_bucket(c, "del", MIRRORED)
        _put_all(c, "del", ["a", "b", "c"])
        assert c.put(ourl("del", "a"), content=b"new").status_code == 200
        assert c.delete(ourl("del", "b")).status_code == 200
        _wait_until(lambda: sorted(_files(disks[0]).values()) == sorted(_files(disks[1]).values())
                    == sorted([b"new", _body("c")]))
        assert act(c, "DELETE", "/v1/buckets/del", "destroy-bck").status_code == 200
        _wait_until(lambda: not _files(disks[0]) and not _files(disks[1]))


def test_copies_need_as_many_mountpaths(server: Server) -> None:
    with server.client() as c:
        assert_error(act(c, "POST", "/v1/buckets/one", "create-bck", MIRRORED), 400, "mirror.copies=2", "mountpaths")
        create_bucket(c, "one")
        assert_error(set_props(c, "one", {"mirror.enabled": True}), 400, "needs 2 mountpaths")
        assert_error(act(c, "POST", "/v1/buckets/one", "make-n-copies", 3), 400, "needs 3 mountpaths")
        assert_error(act(c, "POST", "/v1/buckets/one", "make-n-copies", "many"), 400, "number of copies")
        assert_error(set_props(c, "one", {"ec.enabled": True}), 400, "erasure coding", "mirror")
        assert bucket_props(c, "one")["mirror"]["enabled"] is False
        # the cluster's defaults, which new buckets inherit, are held to the same rule
        r = c.put("/v1/cluster", json={"action": "set-config", "value": {"mirror.enabled": True}})
        assert_error(r, 400, "needs 2 mountpaths")
        assert c.get("/v1/daemon", params={"what": "config"}).json()["mirror"]["enabled"] is False


def test_a_copy_left_by_a_crash_is_removed_at_start(two_disk_server: Server, disks: list[Path]) -> None:
    """A mirror copy whose row never committed is an orphan even though its original is referenced."""
    srv = two_disk_server
    with srv.client() as c:
        create_bucket(c, "orph")
        assert c.put(ourl("orph", "o"), content=b"payload").status_code == 200
        bid = bucket_props(c, "orph")["bid"]
    original = data_file(srv.data_dir, bid, "o")
    other = next(d for d in disks[:2] if not str(original).startswith(str(d.resolve())))
    stray = other / original.relative_to(original.parents[3])
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"payload")
    srv.kill9()
    srv.start()
    _wait_until(lambda: not stray.exists())
    assert original.read_bytes() == b"payload"
    with srv.client() as c:
        assert c.get(ourl("orph", "o")).content == b"payload"


def test_files_written_through_the_mount_are_mirrored(tmp_path: Path, disks: list[Path]) -> None:
    """Closed, fsynced, rewritten in place and renamed files: each object's data on both disks, and the
    versions the writes replaced gone from both."""
    data_dir = tmp_path / "data"

    async def setup() -> None:   # the data dir remembers its two mountpaths from here on
        async with Engine.open(data_dir, disks[:2]) as engine:
            await engine.create_bucket("bkt", MIRRORED)

    trio.run(setup)
    want = {f"f{i}": os.urandom(200_000 + i) for i in range(6)}
    try:
        with mounted(tmp_path, "bkt") as m:
            for name, data in want.items():
                m.path(name).write_bytes(data)
            with open(m.path("synced"), "wb") as f:
                f.write(b"s" * 70_000)
                f.flush()
                os.fsync(f.fileno())
            want["synced"] = b"s" * 70_000
            with open(m.path("f0"), "r+b") as f:   # an overwrite in the middle: a new version of f0
                f.seek(10)
                f.write(b"XYZ")
            want["f0"] = want["f0"][:10] + b"XYZ" + want["f0"][13:]
            os.rename(m.path("f1"), m.path("g1"))
            want["g1"] = want.pop("f1")

        async def copies(engine: Engine) -> dict[str, int]:
            return {k: len(engine.locations(await engine.head_object("bkt", k))) for k in want}

        assert set(with_engine(data_dir, copies).values()) == {2}
        a, b = _files(disks[0]), _files(disks[1])
        assert a == b and sorted(a.values()) == sorted(want.values())
    finally:
        cleanup(tmp_path)


def test_cli_bucket_mirror(two_disk_server: Server, disks: list[Path]) -> None:
    with two_disk_server.client() as c:
        create_bucket(c, "clim")
        _put_all(c, "clim", ["a", "b", "c"])
    res = run_cli("bucket", "mirror", "ais://clim", "--copies", "2", "--wait", endpoint=two_disk_server.url)
    assert res.returncode == 0, res.stderr
    assert "making 2 copies of \"ais://clim\"" in res.stdout + res.stderr
    assert _files(disks[0]) == _files(disks[1]) and len(_files(disks[0])) == 3
    res = run_cli("ls", "ais://clim", "--props", "name,copies,location", "--json", endpoint=two_disk_server.url)
    assert res.returncode == 0, res.stderr
    listed = json.loads(res.stdout)
    assert [(e["name"], e["copies"]) for e in listed] == [("a", 2), ("b", 2), ("c", 2)]
    assert {e["location"] for e in listed} <= {str(disks[0]), str(disks[1])}
    res = run_cli("ls", "ais://clim", "--props", "copies", endpoint=two_disk_server.url)
    assert res.returncode == 0 and res.stdout.split()[:2] == ["NAME", "COPIES"], res.stdout
    res = run_cli("bucket", "mirror", "ais://clim", "--copies", "3", endpoint=two_disk_server.url)
    assert res.returncode != 0 and "needs 3 mountpaths" in res.stderr
    res = run_cli("bucket", "mirror", "ais://clim", "--copies", "0", endpoint=two_disk_server.url)
    assert res.returncode != 0 and "1 or more" in res.stderr
    res = run_cli("bucket", "props", "show", "ais://clim", "mirror", "--json", endpoint=two_disk_server.url)
    shown = json.loads(res.stdout)
    assert shown["mirror.copies"] == 2 and shown["mirror.enabled"] is True


def test_older_versions_get_copies_and_are_read_from_them(tmp_path: Path, disks: list[Path]) -> None:
    srv = keyed_server(tmp_path / "data", "--mountpath", str(disks[0]), "--mountpath", str(disks[1]))
    try:
        s3 = client(f"{srv.url}/s3")
        s3.create_bucket(Bucket="ver")
        s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
        v1 = s3.put_object(Bucket="ver", Key="k", Body=b"one" * 1000)["VersionId"]
        s3.put_object(Bucket="ver", Key="k", Body=b"two" * 1000)
        with srv.client() as c:
            job = wait_job(c, act(c, "POST", "/v1/buckets/ver", "make-n-copies", 2).text)
            assert job["errors"] == [] and job["objs"] == 2   # the current version and the older one
        assert _files(disks[0]) == _files(disks[1]) and len(_files(disks[0])) == 2
        for disk in disks[:2]:   # one disk's files all gone, then the other's: every version still reads
            for p in (disk / "%ob").glob("*/*/*"):
                p.unlink()
            assert s3.get_object(Bucket="ver", Key="k", VersionId=v1)["Body"].read() == b"one" * 1000
            assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"two" * 1000
            with srv.client() as c:   # a read rewrites a missing original; make-n-copies any missing copy
                assert wait_job(c, act(c, "POST", "/v1/buckets/ver", "make-n-copies", 2).text)["errors"] == []
            assert _files(disks[0]) == _files(disks[1]) and len(_files(disks[0])) == 2
    finally:
        srv.stop()


def test_copies_between_mountpaths_on_two_file_systems(tmp_path: Path) -> None:
    """Object copies and multipart assembly go through the kernel (copy_file_range) where the two files
    share a file system and through the server otherwise: either way every byte and checksum arrives."""
    with tmpfs(tmp_path / "tmpfs", 160 << 20) as other_fs:   # room for every copy, wherever they land
        disk = tmp_path / "disk"
        srv = keyed_server(tmp_path / "data", "--mountpath", str(disk), "--mountpath", str(other_fs))
        try:
            s3 = client(srv.url)
            s3.create_bucket(Bucket="cpy")   # an S3 bucket: md5 checksums, as S3 clients expect
            src = os.urandom(6 << 20)
            s3.put_object(Bucket="cpy", Key="src", Body=src)
            keys = [f"copy-{i:02d}" for i in range(20)]   # all on one mountpath: one chance in 2**20
            for k in keys:
                s3.copy_object(Bucket="cpy", Key=k, CopySource={"Bucket": "cpy", "Key": "src"})
            up = s3.create_multipart_upload(Bucket="cpy", Key="mpu")["UploadId"]
            parts = [s3.upload_part_copy(Bucket="cpy", Key="mpu", UploadId=up, PartNumber=n, CopySource="cpy/src",
                                         CopySourceRange=rng)["CopyPartResult"]["ETag"]
                     for n, rng in ((1, f"bytes=0-{(5 << 20) - 1}"), (2, f"bytes={5 << 20}-{len(src) - 1}"))]
            s3.complete_multipart_upload(Bucket="cpy", Key="mpu", UploadId=up, MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(parts, 1)]})
            with srv.client() as c:
                homes = {data_file(tmp_path / "data", bucket_props(c, "cpy")["bid"], k).parent.parent.parent.parent
                         for k in ["src", *keys]}
                assert homes == {disk, other_fs}, "the copies should land on both mountpaths"
                for k in [*keys, "mpu"]:
                    r = c.get(ourl("cpy", k))
                    assert r.status_code == 200 and r.content == src, k
                    assert r.headers["ais-checksum-value"] == hashlib.md5(src).hexdigest(), k
                    assert r.headers["ais-checksum-type"] == "md5"
            assert s3.head_object(Bucket="cpy", Key="copy-00")["ETag"] == f'"{hashlib.md5(src).hexdigest()}"'
        finally:
            srv.stop()
