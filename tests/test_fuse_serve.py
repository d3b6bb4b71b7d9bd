"""Embedded mount serving S3 + REST from the same process (`--serve`): both faces see the same objects."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import s3kit

from fuse_support import Mount, cleanup, is_mounted, serving_mount
from restkit import set_props
from support import free_port


def test_mount_and_rest_see_each_other(tmp_path: Path) -> None:
    """Over a worker process too (`--workers 2`): REST's reads may land on either process."""
    with serving_mount(tmp_path, "shared", "--metadata-ttl", "0.5", "--workers", "2") as (m, c):
        assert m.proc is not None
        workers = subprocess.run(["pgrep", "-P", str(m.proc.pid), "-f", "engine.http.workers"],
                                 capture_output=True, text=True).stdout.split()
        assert len(workers) == 1
        # closed in the mount -> readable over REST at once, same checksum and version
        data = os.urandom(300_000)
        m.path("from-mount").write_bytes(data)
        r = c.get("/v1/objects/shared/from-mount")
        assert r.status_code == 200 and r.content == data
        cks = os.getxattr(m.path("from-mount"), "user.ais.checksum").decode()
        assert cks == f"{r.headers['Ais-Checksum-Type']}:{r.headers['Ais-Checksum-Value']}"
        assert os.getxattr(m.path("from-mount"), "user.ais.version").decode() == r.headers["Ais-Version"]
        # PUT over REST -> visible in the mount within the metadata TTL
        assert c.put("/v1/objects/shared/dir/from-rest", content=b"rest!").status_code == 200
        deadline = time.monotonic() + 3
        while not m.path("dir", "from-rest").exists():
            assert time.monotonic() < deadline, "object PUT over REST did not appear in the mount"
            time.sleep(0.1)
        assert m.path("dir", "from-rest").read_bytes() == b"rest!"
        # overwrite over REST -> new content after the TTL
        assert c.put("/v1/objects/shared/dir/from-rest", content=b"changed").status_code == 200
        time.sleep(0.7)
        assert m.path("dir", "from-rest").read_bytes() == b"changed"
        # delete in the mount -> gone over REST
        os.unlink(m.path("from-mount"))
        assert c.head("/v1/objects/shared/from-mount").status_code == 404
        for _ in range(8):   # fresh connections, so both processes answer some
            with httpx.Client(base_url=c.base_url, timeout=30) as fresh:
                assert fresh.get("/v1/objects/shared/dir/from-rest").content == b"changed"
    assert not [p for p in workers if Path(f"/proc/{p}").exists()], "the mount's worker outlived it"


def test_mount_and_s3_see_each_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in s3kit.KEY_ENV.items():
        monkeypatch.setenv(k, v)
    with serving_mount(tmp_path, "s3b", "--metadata-ttl", "0.5") as (m, c):
        s3 = s3kit.client(str(c.base_url).rstrip("/"))
        m.path("photos").mkdir()
        data = os.urandom(70_000)
        m.path("photos", "cat.jpg").write_bytes(data)
        assert s3.get_object(Bucket="s3b", Key="photos/cat.jpg")["Body"].read() == data
        m.path("empty").mkdir()
        listing = s3.list_objects_v2(Bucket="s3b", Delimiter="/")
        assert sorted(p["Prefix"] for p in listing.get("CommonPrefixes", [])) == ["empty/", "photos/"]
        s3.put_object(Bucket="s3b", Key="photos/dog.jpg", Body=b"woof", Metadata={"color": "brown"})
        deadline = time.monotonic() + 3
        while not m.path("photos", "dog.jpg").exists():
            assert time.monotonic() < deadline, "object PUT over S3 did not appear in the mount"
            time.sleep(0.1)
        assert m.path("photos", "dog.jpg").read_bytes() == b"woof"
        assert os.getxattr(m.path("photos", "dog.jpg"), "user.meta.color") == b"brown"
        # a versioned bucket: `tar --xattrs -x` (mknod, setxattr, open, write, close per file) makes one version
        # per file, not an empty one first; a file made by mknod and never opened lands empty, with its mode
        s3.put_bucket_versioning(Bucket="s3b", VersioningConfiguration={"Status": "Enabled"})
        src = tmp_path / "tarsrc"
        src.mkdir()
        for name, body in (("a.txt", b"alpha"), ("b.bin", os.urandom(5000))):
            (src / name).write_bytes(body)
            os.setxattr(src / name, "user.meta.kind", name.encode())
        subprocess.run(["tar", "--xattrs", "-cf", str(tmp_path / "t.tar"), "-C", str(src), "."], check=True)
        m.path("untar").mkdir()
        subprocess.run(["tar", "--xattrs", "-xf", str(tmp_path / "t.tar"), "-C", str(m.path("untar"))], check=True)
        os.mknod(m.path("untar", "node"), 0o640 | stat.S_IFREG)
        versions = s3.list_object_versions(Bucket="s3b", Prefix="untar/")["Versions"]
        files = sorted(v["Key"] for v in versions if not v["Key"].endswith("/"))
        assert files == ["untar/a.txt", "untar/b.bin"], versions
        for name in ("a.txt", "b.bin"):
            o = s3.get_object(Bucket="s3b", Key=f"untar/{name}")
            assert o["Body"].read() == (src / name).read_bytes() and o["Metadata"]["kind"] == name
        deadline = time.monotonic() + 5
        while not [v for v in s3.list_object_versions(Bucket="s3b", Prefix="untar/node").get("Versions", [])]:
            assert time.monotonic() < deadline, "a file made by mknod was never uploaded"
            time.sleep(0.2)
        o = s3.head_object(Bucket="s3b", Key="untar/node")
        assert o["ContentLength"] == 0 and stat.S_IMODE(os.stat(m.path("untar", "node")).st_mode) == 0o640
        # fsync of the directory uploads such a file at once: the name it promises is an object
        os.mknod(m.path("untar", "node2"), 0o600 | stat.S_IFREG)
        dfd = os.open(m.path("untar"), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        assert s3.head_object(Bucket="s3b", Key="untar/node2")["ContentLength"] == 0
        # and when that upload fails (the bucket made read-only meanwhile), the fsync says so: the name is gone
        os.mknod(m.path("untar", "node3"), 0o600 | stat.S_IFREG)
        assert set_props(c, "s3b", {"access": "ro"}).status_code == 200
        dfd = os.open(m.path("untar"), os.O_RDONLY)
        try:
            with pytest.raises(OSError) as ei:
                os.fsync(dfd)
            assert ei.value.errno == errno.EACCES
        finally:
            os.close(dfd)
            assert set_props(c, "s3b", {"access": "rw"}).status_code == 200
        assert "node3" not in os.listdir(m.path("untar"))
        assert not s3.list_object_versions(Bucket="s3b", Prefix="untar/node3").get("Versions")


def test_ml_preset_lists_once_per_ttl(tmp_path: Path) -> None:
    """--preset ml: read-only, indefinite TTL: a directory is listed once; new objects are reachable by name."""
    with serving_mount(tmp_path, "ml", "--preset", "ml") as (m, c):
        for i in range(3):
            assert c.put(f"/v1/objects/ml/train/s{i}", content=b"x" * i).status_code == 200
        assert sorted(os.listdir(m.path("train"))) == ["s0", "s1", "s2"]
        assert c.put("/v1/objects/ml/train/s3", content=b"new").status_code == 200
        assert sorted(os.listdir(m.path("train"))) == ["s0", "s1", "s2"]  # the listing is cached
        assert m.path("train", "s3").read_bytes() == b"new"  # names are still looked up
        assert [m.path("train", f"s{i}").stat().st_size for i in range(3)] == [0, 1, 2]


def test_serve_beside_mount_refuses_unsigned_s3_off_loopback(tmp_path: Path) -> None:
    """`mount --serve` follows `aisfs serve`'s rule: no keys and a non-loopback address is refused, and
    nothing is left mounted."""
    m = Mount(tmp_path, "bkt", "--create-bucket", "--serve", f"0.0.0.0:{free_port()}")
    try:
        with pytest.raises(RuntimeError, match="refusing to serve S3 without access keys"):
            m.start()
        assert not is_mounted(m.mnt)
    finally:
        m.stop()
        cleanup(tmp_path)


# Reads every file given, over and over, with 4 threads until the first argument exists; prints the count.
BUSY_READER = """
import sys, threading, os
stop, files, count = sys.argv[1], sys.argv[2:], [0]
def run():
    while not os.path.exists(stop):
        for f in files:
            with open(f, "rb") as h:
                assert h.read() == os.path.basename(f).encode() * 1000
            count[0] += 1
threads = [threading.Thread(target=run) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(count[0])
"""


def finish(p: subprocess.Popen[str]) -> str:
    """A reader's output once it has stopped; killed (by its PID) if it does not stop in time."""
    try:
        return p.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return "0"


def test_rest_answers_while_the_mount_is_busy(tmp_path: Path) -> None:
    """Readers that keep the mount's request queue full (a dataloader's workers) take its request loop past
    trio's scheduler most of the time; the S3 + REST face in the same process still gets its turns."""
    with serving_mount(tmp_path, "busy") as (m, c):
        files = [m.path(f"f{i:03d}") for i in range(64)]
        for f in files:
            f.write_bytes(f.name.encode() * 1000)
        assert c.put("/v1/objects/busy/probe", content=b"probe").status_code == 200
        stop = tmp_path / "stop"
        readers = [subprocess.Popen([sys.executable, "-c", BUSY_READER, str(stop), *map(str, files)],
                                    stdout=subprocess.PIPE, text=True) for _ in range(3)]
        try:
            time.sleep(0.5)
            slowest = 0.0
            for _ in range(20):
                t0 = time.monotonic()
                r = c.get("/v1/objects/busy/probe", timeout=10)
                slowest = max(slowest, time.monotonic() - t0)
                assert r.status_code == 200 and r.content == b"probe"
        finally:
            stop.touch()
            outs = [finish(p) for p in readers]
        assert all(p.returncode == 0 for p in readers), "a reader failed or read wrong bytes"
        busy = sum(int(o) for o in outs)
        assert busy > 500, f"the readers were not busy: {busy} reads"
        assert slowest < 2.0, f"a REST GET beside the busy mount took {slowest:.2f} s"
