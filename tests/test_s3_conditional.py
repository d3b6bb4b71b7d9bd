"""Conditional writes (If-None-Match: * / If-Match: ETag) on PutObject, CompleteMultipartUpload and /v1 PUT,
as a boto3 user sees them: the error code, and the object left as it was."""
from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable

import httpx
import pytest
from botocore.exceptions import ClientError

from s3kit import client, error_code, random_bytes
from support import Server

MiB = 1 << 20


@pytest.fixture(scope="module")
def s3(s3: Any) -> Any:
    """The shared client, with this module's buckets (one plain, one versioned)."""
    s3.create_bucket(Bucket="cond")
    s3.create_bucket(Bucket="condv")
    s3.put_bucket_versioning(Bucket="condv", VersioningConfiguration={"Status": "Enabled"})
    return s3


def files(s3_srv: Server, kind: str) -> int:
    """How many data (`%ob`) or work (`%wk`) files the server's mountpath holds."""
    return sum(1 for p in (s3_srv.data_dir / "mpath" / kind).rglob("*") if p.is_file())


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    """(HTTP status, S3 error code) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], error_code(e)


def test_if_none_match_creates_only(s3: Any, s3_srv: Server) -> None:
    r = s3.put_object(Bucket="cond", Key="new", Body=b"first", IfNoneMatch="*")
    assert r["ETag"] == f'"{hashlib.md5(b"first").hexdigest()}"'
    obs = files(s3_srv, "%ob")
    big = random_bytes(3 * MiB)   # streamed to a work file before the condition is decided
    for body in (b"second", big):
        assert refused(lambda: s3.put_object(Bucket="cond", Key="new", Body=body, IfNoneMatch="*")) == \
            (412, "PreconditionFailed")
    assert s3.get_object(Bucket="cond", Key="new")["Body"].read() == b"first"
    assert (files(s3_srv, "%ob"), files(s3_srv, "%wk")) == (obs, 0)
    # S3 takes only `*` there, and not together with If-Match
    assert refused(lambda: s3.put_object(Bucket="cond", Key="new", Body=b"x", IfNoneMatch=r["ETag"])) == \
        (501, "NotImplemented")
    assert refused(lambda: s3.put_object(Bucket="cond", Key="new", Body=b"x", IfNoneMatch="*",
                                         IfMatch=r["ETag"])) == (501, "NotImplemented")
    assert s3.get_object(Bucket="cond", Key="new")["Body"].read() == b"first"


def test_if_match_replaces_only_that_etag(s3: Any, s3_srv: Server) -> None:
    assert refused(lambda: s3.put_object(Bucket="cond", Key="cas", Body=b"x", IfMatch='"abc"')) == \
        (404, "NoSuchKey")
    etag = s3.put_object(Bucket="cond", Key="cas", Body=b"v1")["ETag"]
    etag2 = s3.put_object(Bucket="cond", Key="cas", Body=b"v2", IfMatch=etag)["ETag"]
    # the ETag it matched is gone now: a writer holding it loses
    assert refused(lambda: s3.put_object(Bucket="cond", Key="cas", Body=b"v3", IfMatch=etag)) == \
        (412, "PreconditionFailed")
    assert s3.get_object(Bucket="cond", Key="cas")["Body"].read() == b"v2"
    # the ETag quoted or not, as S3 compares it
    s3.put_object(Bucket="cond", Key="cas", Body=b"v3", IfMatch=etag2.strip('"'))
    assert s3.get_object(Bucket="cond", Key="cas")["Body"].read() == b"v3"
    assert files(s3_srv, "%wk") == 0


def test_versioned_bucket_delete_marker_is_no_object(s3: Any) -> None:
    v1 = s3.put_object(Bucket="condv", Key="k", Body=b"one", IfNoneMatch="*")
    assert refused(lambda: s3.put_object(Bucket="condv", Key="k", Body=b"two", IfNoneMatch="*")) == \
        (412, "PreconditionFailed")
    s3.delete_object(Bucket="condv", Key="k")   # a delete marker is now the latest version
    assert refused(lambda: s3.put_object(Bucket="condv", Key="k", Body=b"two", IfMatch=v1["ETag"])) == \
        (404, "NoSuchKey")
    s3.put_object(Bucket="condv", Key="k", Body=b"three", IfNoneMatch="*")
    assert s3.get_object(Bucket="condv", Key="k")["Body"].read() == b"three"
    assert s3.get_object(Bucket="condv", Key="k", VersionId=v1["VersionId"])["Body"].read() == b"one"
    r = s3.list_object_versions(Bucket="condv", Prefix="k")
    assert (len(r["Versions"]), len(r["DeleteMarkers"])) == (2, 1)   # the refused writes left no version


def race(n: int, write: Callable[[int], Any]) -> tuple[list[int], list[str]]:
    """Run `write(i)` for i < n in threads released together: (winners, error codes of the others)."""
    gate = threading.Barrier(n)
    won: list[int] = []
    codes: list[str] = []

    def run(i: int) -> None:
        gate.wait()
        try:
            write(i)
            won.append(i)
        except ClientError as e:
            codes.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return won, codes


def test_concurrent_creates_exactly_one_wins(s3: Any, s3_srv: Server) -> None:
    """Racing If-None-Match: * writers of one new key: one commits, every other gets 412 (never 409 here:
    the engine decides inside the commit's transaction, one writer at a time)."""
    clients = [client(f"{s3_srv.url}/s3") for _ in range(8)]
    bodies = [bytes([i]) * (MiB + i) for i in range(8)]
    for round_ in range(3):
        key = f"race-{round_}"
        won, codes = race(8, lambda i: clients[i].put_object(Bucket="cond", Key=key, Body=bodies[i],
                                                             IfNoneMatch="*"))
        assert len(won) == 1 and codes == ["PreconditionFailed"] * 7, (won, codes)
        assert s3.get_object(Bucket="cond", Key=key)["Body"].read() == bodies[won[0]]
    assert files(s3_srv, "%wk") == 0


def _upload(s3: Any, key: str, body: bytes) -> tuple[str, list[dict[str, Any]]]:
    uid = s3.create_multipart_upload(Bucket="cond", Key=key)["UploadId"]
    etag = s3.upload_part(Bucket="cond", Key=key, UploadId=uid, PartNumber=1, Body=body)["ETag"]
    return uid, [{"PartNumber": 1, "ETag": etag}]


def test_complete_multipart_upload_conditions(s3: Any, s3_srv: Server) -> None:
    old = s3.put_object(Bucket="cond", Key="mpu", Body=b"old")["ETag"]
    uid, parts = _upload(s3, "mpu", b"new")

    def complete(**cond: str) -> Any:
        return s3.complete_multipart_upload(Bucket="cond", Key="mpu", UploadId=uid,
                                            MultipartUpload={"Parts": parts}, **cond)

    assert refused(lambda: complete(IfNoneMatch="*")) == (412, "PreconditionFailed")
    assert refused(lambda: complete(IfMatch='"0123"')) == (412, "PreconditionFailed")
    # the object is untouched and the upload stays, to be completed (or aborted) later
    assert s3.get_object(Bucket="cond", Key="mpu")["Body"].read() == b"old"
    assert [p["PartNumber"] for p in s3.list_parts(Bucket="cond", Key="mpu", UploadId=uid)["Parts"]] == [1]
    complete(IfMatch=old)
    assert s3.get_object(Bucket="cond", Key="mpu")["Body"].read() == b"new"
    assert refused(lambda: s3.complete_multipart_upload(
        Bucket="cond", Key="mpu-missing", UploadId=_upload(s3, "mpu-missing", b"x")[0],
        MultipartUpload={"Parts": parts}, IfMatch=old)) == (404, "NoSuchKey")
    # two uploads of one new key completed at once with If-None-Match: *: one object, one 412
    ups = [_upload(s3, "mpu-race", bytes([i]) * 1000) for i in range(2)]
    won, codes = race(2, lambda i: s3.complete_multipart_upload(
        Bucket="cond", Key="mpu-race", UploadId=ups[i][0], MultipartUpload={"Parts": ups[i][1]}, IfNoneMatch="*"))
    assert len(won) == 1 and codes == ["PreconditionFailed"]
    assert s3.get_object(Bucket="cond", Key="mpu-race")["Body"].read() == bytes([won[0]]) * 1000
    assert files(s3_srv, "%wk") == 0


def test_rest_put_takes_the_same_conditions(s3: Any, s3_srv: Server) -> None:
    url = f"{s3_srv.url}/v1/objects/cond/rest"
    assert httpx.put(url, content=b"one", headers={"if-none-match": "*"}).status_code == 200
    r = httpx.put(url, content=b"two", headers={"if-none-match": "*"})
    assert r.status_code == 412 and r.json()["code"] == "PreconditionFailed"
    etag = httpx.head(url).headers["etag"]
    assert httpx.put(url, content=b"two", headers={"if-match": etag}).status_code == 200
    assert httpx.put(url, content=b"three", headers={"if-match": etag}).status_code == 412
    assert httpx.get(url).content == b"two"


def test_copy_object_conditions_guard_the_destination(s3: Any, s3_srv: Server) -> None:
    """CopyObject takes If-None-Match: * / If-Match for its destination, also when copying an older version."""
    s3.put_object(Bucket="condv", Key="src", Body=b"v1")
    old = s3.put_object(Bucket="condv", Key="src", Body=b"v2")["VersionId"]
    first = s3.list_object_versions(Bucket="condv", Prefix="src")["Versions"][-1]["VersionId"]
    assert first != old
    r = s3.copy_object(Bucket="cond", Key="copied", CopySource={"Bucket": "condv", "Key": "src"}, IfNoneMatch="*")
    etag = r["CopyObjectResult"]["ETag"]
    obs = files(s3_srv, "%ob")
    for src in ({"Bucket": "condv", "Key": "src"}, {"Bucket": "condv", "Key": "src", "VersionId": first}):
        assert refused(lambda: s3.copy_object(Bucket="cond", Key="copied", CopySource=src, IfNoneMatch="*")) == \
            (412, "PreconditionFailed")
        assert refused(lambda: s3.copy_object(Bucket="cond", Key="copied", CopySource=src, IfMatch='"nope"')) == \
            (412, "PreconditionFailed")
        assert refused(lambda: s3.copy_object(Bucket="cond", Key="absent", CopySource=src, IfMatch=etag)) == \
            (404, "NoSuchKey")
    assert s3.get_object(Bucket="cond", Key="copied")["Body"].read() == b"v2"
    assert (files(s3_srv, "%ob"), files(s3_srv, "%wk")) == (obs, 0)
    # the right ETag lets an older version replace it
    s3.copy_object(Bucket="cond", Key="copied", CopySource={"Bucket": "condv", "Key": "src", "VersionId": first},
                   IfMatch=etag)
    assert s3.get_object(Bucket="cond", Key="copied")["Body"].read() == b"v1"
