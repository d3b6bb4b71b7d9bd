"""A disk that really fills up in the middle of a write (not the watermarks' early refusal): the writer
gets the out-of-space error of its face, the previous version stays readable, and nothing of the
failed write is left behind. The mountpath is a small tmpfs, so the disk is full at a known size."""
from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from fuse_support import Mount, cleanup, with_engine
from restkit import create_bucket, ourl
from s3kit import client, error_code, no_retries
from support import Server, tmpfs

MIB = 1 << 20
SMALL_FS = 4 * MIB


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB filesystem to use as the only mountpath."""
    with tmpfs(tmp_path / "small", SMALL_FS) as d:
        yield d


def leftovers(mp: Path) -> list[Path]:
    """Work files (a PUT's or a mount's staged file) still on the mountpath."""
    return list((mp / "%wk").glob("*")) if (mp / "%wk").exists() else []


def released(mp: Path) -> None:
    """Wait for the kernel's release of closed handles (it comes after close returns) to free their staging."""
    deadline = time.monotonic() + 10
    while leftovers(mp):
        assert time.monotonic() < deadline, f"staging files never removed: {leftovers(mp)}"
        time.sleep(0.02)


def test_put_over_rest_and_s3_on_a_full_disk(tmp_path: Path, small_fs: Path) -> None:
    srv = Server(tmp_path / "data", "--mountpath", str(small_fs)).start()
    try:
        old = os.urandom(MIB)
        too_big = os.urandom(SMALL_FS - MIB // 2)  # more than is left: fails part-way through
        with srv.client() as c:
            create_bucket(c, "b")
            assert c.put(ourl("b", "k"), content=old).status_code == 200
            r = c.put(ourl("b", "k"), content=too_big)
            assert r.status_code == 507, r.text
            assert r.json()["status"] == 507 and "space" in r.json()["message"]
            got = c.get(ourl("b", "k"))
            assert got.content == old and got.headers["ais-version"] == "1"
            assert not leftovers(small_fs)
            # S3 answers with its own code, and stores nothing either
            r = c.put("/b/s3key", content=too_big)
            assert r.status_code == 507 and "<Code>InsufficientStorage</Code>" in r.text, r.text
            assert c.head("/b/s3key").status_code == 404
            assert not leftovers(small_fs)
            # the space of the failed writes came back: a write that fits works
            assert shutil.disk_usage(small_fs).used < 2 * MIB
            assert c.put(ourl("b", "k2"), content=old).status_code == 200
    finally:
        srv.stop()


def test_multipart_part_on_a_full_disk(tmp_path: Path) -> None:
    """A part that fills the disk half-way fails with S3's code; the parts stored before it stay whole,
    and completing them gives back the space the failed part took (the upload's file is cut after them)."""
    with tmpfs(tmp_path / "mp", 14 * MIB) as disk:
        srv = Server(tmp_path / "data", "--mountpath", str(disk)).start()
        try:
            s3 = no_retries(client(srv.url))
            s3.create_bucket(Bucket="full")
            parts = [os.urandom(5 * MIB) for _ in range(3)]
            uid = s3.create_multipart_upload(Bucket="full", Key="k")["UploadId"]
            etags = [s3.upload_part(Bucket="full", Key="k", UploadId=uid, PartNumber=n, Body=parts[n - 1])["ETag"]
                     for n in (1, 2)]
            with pytest.raises(ClientError) as e:
                s3.upload_part(Bucket="full", Key="k", UploadId=uid, PartNumber=3, Body=parts[2])
            assert error_code(e) == "InsufficientStorage"
            assert shutil.disk_usage(disk).free < MIB   # the failed part's bytes are still there
            s3.complete_multipart_upload(Bucket="full", Key="k", UploadId=uid, MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in zip((1, 2), etags)]})
            assert s3.get_object(Bucket="full", Key="k")["Body"].read() == parts[0] + parts[1]
            assert shutil.disk_usage(disk).used < 11 * MIB
            assert not leftovers(disk)
        finally:
            srv.stop()


def test_mount_write_on_a_full_disk(tmp_path: Path, small_fs: Path) -> None:
    old = os.urandom(MIB)

    async def seed(engine: Any) -> None:
        await engine.create_bucket("b")
        await engine.put_object("b", "f", old)

    data = tmp_path / "data"
    # The mountpath is remembered by the data dir, so the mount finds it without being told.
    with_engine(data, seed, mountpaths=[small_fs])
    m = Mount(tmp_path / "m", "b", data_dir=data)
    try:
        m.start()
        with pytest.raises(OSError) as ei:
            with open(m.path("f"), "r+b") as f:
                f.write(os.urandom(SMALL_FS))
        assert ei.value.errno == errno.ENOSPC
        # at once, before the kernel's (asynchronous) release of the failed handle: the previous content
        assert m.path("f").read_bytes() == old
        released(small_fs)
        # a failed write poisons its handle: later writes and the close fail too, nothing of them lands
        with open(m.path("f"), "r+b", buffering=0) as f:
            with pytest.raises(OSError) as ei:
                for _ in range(4 * SMALL_FS // MIB):  # short writes until the disk is full
                    f.write(os.urandom(MIB))
            assert ei.value.errno == errno.ENOSPC
            with pytest.raises(OSError):
                f.write(b"small")
            with pytest.raises(OSError):
                os.fsync(f.fileno())
            with pytest.raises(OSError):
                f.close()
        assert m.path("f").read_bytes() == old
        released(small_fs)
        # a new open starts afresh, and a write that fits lands
        with open(m.path("f"), "r+b") as f:
            f.write(b"fits")
        assert m.path("f").read_bytes() == b"fits" + old[4:]
        old = b"fits" + old[4:]
        m.stop()
        assert not leftovers(small_fs)
        assert with_engine(data, lambda e: e.get_bytes("b", "f")) == old
    finally:
        m.stop()
        cleanup(tmp_path / "m")
