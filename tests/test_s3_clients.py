"""Real S3 tools against the server, each with its ordinary settings: awscli, s3cmd, minio-py,
fsspec's s3fs and rclone. The server runs with a worker process (`--workers 2`), so each tool's
connections land on either process and its reads and writes cross the hand-over to the owner."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from s3kit import ACCESS, SECRET, client, keyed_server, random_bytes
from support import Server

BIN = Path(sys.executable).parent
MiB = 1 << 20


@pytest.fixture(scope="module")
def s3_srv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = keyed_server(tmp_path_factory.mktemp("s3") / "data", "--workers", "2")
    try:
        yield srv
    finally:
        srv.stop()


def run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert p.returncode == 0, f"{cmd}: {p.stdout}\n{p.stderr}"
    return p.stdout


# awscli ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def aws(s3_srv: Server, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("awshome")
    cfg = home / "config"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {**os.environ, "AWS_CONFIG_FILE": str(cfg), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
           "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET, "HOME": str(home)}

    def aws(*args: str) -> str:
        return run([str(BIN / "aws"), "--endpoint-url", f"{s3_srv.url}/s3", *args], env, timeout=300)
    return aws


def test_awscli_s3_commands(aws: Any, s3_srv: Server, tmp_path: Path) -> None:
    aws("s3", "mb", "s3://awsb")
    assert "awsb" in aws("s3", "ls")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha")
    (src / "sub" / "b.bin").write_bytes(random_bytes(100_000))
    aws("s3", "sync", str(src), "s3://awsb/tree/")
    listing = aws("s3", "ls", "--recursive", "s3://awsb/tree/")
    assert "tree/a.txt" in listing and "tree/sub/b.bin" in listing
    assert "PRE sub/" in aws("s3", "ls", "s3://awsb/tree/")
    back = tmp_path / "back"
    aws("s3", "sync", "s3://awsb/tree/", str(back))
    assert (back / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    # 100 MiB up and down: multipart upload, ranged multipart download with If-Match
    big = tmp_path / "big"
    data = random_bytes(100 * MiB)
    big.write_bytes(data)
    aws("s3", "cp", str(big), "s3://awsb/big")
    got = tmp_path / "big.down"
    aws("s3", "cp", "s3://awsb/big", str(got))
    assert hashlib.md5(got.read_bytes()).digest() == hashlib.md5(data).digest()
    got.unlink()
    big.unlink()
    # server-side copy of a large object (UploadPartCopy) and presign (SigV2)
    aws("s3", "cp", "s3://awsb/big", "s3://awsb/big-copy")
    assert client(f"{s3_srv.url}/s3").head_object(Bucket="awsb", Key="big-copy")["ContentLength"] == 100 * MiB
    url = aws("s3", "presign", "s3://awsb/tree/a.txt", "--expires-in", "60").strip()
    assert httpx.get(url).content == b"alpha"
    aws("s3", "rm", "--recursive", "s3://awsb/")
    aws("s3", "rb", "s3://awsb")
    assert "awsb" not in aws("s3", "ls")


def test_awscli_s3api_versions_and_multipart(aws: Any, tmp_path: Path) -> None:
    import json
    aws("s3api", "create-bucket", "--bucket", "awsapi")
    aws("s3api", "put-bucket-versioning", "--bucket", "awsapi", "--versioning-configuration", "Status=Enabled")
    f = tmp_path / "f"
    f.write_bytes(b"v1")
    v1 = json.loads(aws("s3api", "put-object", "--bucket", "awsapi", "--key", "k", "--body", str(f)))["VersionId"]
    f.write_bytes(b"v2")
    aws("s3api", "put-object", "--bucket", "awsapi", "--key", "k", "--body", str(f))
    vs = json.loads(aws("s3api", "list-object-versions", "--bucket", "awsapi"))["Versions"]
    assert len(vs) == 2
    out = tmp_path / "o"
    aws("s3api", "get-object", "--bucket", "awsapi", "--key", "k", "--version-id", v1, str(out))
    assert out.read_bytes() == b"v1"
    up = json.loads(aws("s3api", "create-multipart-upload", "--bucket", "awsapi", "--key", "m"))["UploadId"]
    f.write_bytes(b"part")
    etag = json.loads(aws("s3api", "upload-part", "--bucket", "awsapi", "--key", "m", "--upload-id", up,
                          "--part-number", "1", "--body", str(f)))["ETag"]
    parts = json.loads(aws("s3api", "list-parts", "--bucket", "awsapi", "--key", "m", "--upload-id", up))["Parts"]
    assert parts[0]["ETag"] == etag
    layout = tmp_path / "parts.json"
    layout.write_text(json.dumps({"Parts": [{"PartNumber": 1, "ETag": etag}]}))
    aws("s3api", "complete-multipart-upload", "--bucket", "awsapi", "--key", "m", "--upload-id", up,
        "--multipart-upload", f"file://{layout}")
    aws("s3api", "get-object", "--bucket", "awsapi", "--key", "m", str(out))
    assert out.read_bytes() == b"part"


# s3cmd -----------------------------------------------------------------------------------------
def test_s3cmd(s3_srv: Server, tmp_path: Path) -> None:
    cfg = tmp_path / "s3cfg"
    host = f"127.0.0.1:{s3_srv.port}"
    cfg.write_text(f"[default]\naccess_key = {ACCESS}\nsecret_key = {SECRET}\nhost_base = {host}\n"
                   f"host_bucket = {host}\nuse_https = False\nbucket_location = us-east-1\nsignature_v2 = False\n")

    def s3cmd(*args: str) -> str:
        return run(["s3cmd", "-c", str(cfg), *args], {**os.environ, "HOME": str(tmp_path)})
    s3cmd("mb", "s3://s3cmdb")
    f = tmp_path / "f.bin"
    data = random_bytes(300_000)
    f.write_bytes(data)
    s3cmd("put", str(f), "s3://s3cmdb/dir/f.bin")
    assert "s3://s3cmdb/dir/f.bin" in s3cmd("ls", "-r", "s3://s3cmdb")
    s3cmd("get", "s3://s3cmdb/dir/f.bin", str(tmp_path / "g.bin"))
    assert (tmp_path / "g.bin").read_bytes() == data
    s3cmd("cp", "s3://s3cmdb/dir/f.bin", "s3://s3cmdb/copy.bin")
    assert "MD5 sum" in s3cmd("info", "s3://s3cmdb/copy.bin")
    s3cmd("setacl", "--acl-private", "s3://s3cmdb/copy.bin")   # it is already: succeeds
    url = s3cmd("signurl", "s3://s3cmdb/copy.bin", "+60").strip()
    assert httpx.get(url).content == data
    assert "s3://s3cmdb/copy.bin" in s3cmd("--signature-v2", "ls", "s3://s3cmdb")   # SigV2 headers too
    s3cmd("del", "-r", "--force", "s3://s3cmdb/")
    s3cmd("rb", "s3://s3cmdb")


# minio-py ------------------------------------------------------------------------------------------
def test_minio(s3_srv: Server) -> None:
    import io

    from minio import Minio
    from minio.commonconfig import CopySource
    from minio.deleteobjects import DeleteObject
    m = Minio(f"127.0.0.1:{s3_srv.port}", access_key=ACCESS, secret_key=SECRET, secure=False, region="us-east-1")
    m.make_bucket("miniob")
    assert m.bucket_exists("miniob")
    data = random_bytes(12 * MiB)
    m.put_object("miniob", "big", io.BytesIO(data), length=-1, part_size=5 * MiB)   # multipart, unknown size
    m.put_object("miniob", "dir/small", io.BytesIO(b"small"), length=5, metadata={"x-amz-meta-k": "v"})
    assert m.get_object("miniob", "big").read() == data
    assert m.stat_object("miniob", "dir/small").metadata["x-amz-meta-k"] == "v"
    assert [o.object_name for o in m.list_objects("miniob")] == ["big", "dir/"]
    assert [o.object_name for o in m.list_objects("miniob", recursive=True)] == ["big", "dir/small"]
    m.copy_object("miniob", "copy", CopySource("miniob", "dir/small"))
    url = m.presigned_get_object("miniob", "copy")
    assert httpx.get(url).content == b"small"
    errs = list(m.remove_objects("miniob", [DeleteObject(n) for n in ("big", "dir/small", "copy")]))
    assert errs == []
    m.remove_bucket("miniob")


# fsspec s3fs ----------------------------------------------------------------------------------------
def test_s3fs(s3_srv: Server) -> None:
    import s3fs
    fs = s3fs.S3FileSystem(key=ACCESS, secret=SECRET, client_kwargs={"endpoint_url": f"{s3_srv.url}/s3"},
                           config_kwargs={"s3": {"addressing_style": "path"}}, skip_instance_cache=True)
    fs.mkdir("fsb")
    data = random_bytes(7 * MiB)
    with fs.open("fsb/dir/file", "wb", block_size=5 * MiB) as f:
        f.write(data)
    fs.pipe("fsb/dir/other", b"other")
    assert sorted(fs.ls("fsb/dir", detail=False)) == ["fsb/dir/file", "fsb/dir/other"]
    with fs.open("fsb/dir/file", "rb") as f:
        f.seek(1000)
        assert f.read(100) == data[1000:1100]
    assert fs.cat("fsb/dir/file") == data
    assert fs.info("fsb/dir/file")["size"] == len(data)
    fs.rm("fsb", recursive=True)
    assert "fsb" not in [b.rstrip("/") for b in fs.ls("")]


# rclone ------------------------------------------------------------------------------------------------
def test_rclone(s3_srv: Server, tmp_path: Path) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text(f"[ais]\ntype = s3\nprovider = Other\nendpoint = {s3_srv.url}/s3\nforce_path_style = true\n"
                    f"region = us-east-1\naccess_key_id = {ACCESS}\nsecret_access_key = {SECRET}\n")
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}

    def rclone(*args: str) -> str:
        return run(["rclone", "--config", str(conf), *args], env)
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "x.txt").write_bytes(b"x" * 1000)
    (src / "d" / "y.bin").write_bytes(random_bytes(6 * MiB))
    rclone("mkdir", "ais:rcb")
    rclone("copy", str(src), "ais:rcb/tree", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")
    assert sorted(rclone("lsf", "-R", "ais:rcb/tree").split()) == ["d/", "d/y.bin", "x.txt"]
    rclone("check", str(src), "ais:rcb/tree")
    out = tmp_path / "out"
    rclone("copy", "ais:rcb/tree", str(out))
    assert (out / "d" / "y.bin").read_bytes() == (src / "d" / "y.bin").read_bytes()
    rclone("purge", "ais:rcb")
