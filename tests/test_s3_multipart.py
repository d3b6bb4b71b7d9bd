"""Multipart uploads through boto3's low-level calls: parts, copies, completion rules, listings, abort."""
from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import crc32c
import httpx
import pytest
from awscrt.checksums import crc64nvme
from botocore.exceptions import ClientError

from s3kit import error_code, no_retries, random_bytes
from support import Server, data_files, settled_data_files

MiB = 1 << 20


@pytest.fixture(scope="module")
def s3(s3: Any) -> Any:
    """The shared client, with this module's bucket."""
    s3.create_bucket(Bucket="mpu")
    return s3


def test_upload_complete_and_read_parts(s3: Any, s3_srv: Server) -> None:
    parts_data = [random_bytes(5 * MiB), random_bytes(5 * MiB), random_bytes(1234)]
    up = s3.create_multipart_upload(Bucket="mpu", Key="obj", ContentType="video/x", Metadata={"m": "1"},
                                    ChecksumAlgorithm="CRC32")
    uid = up["UploadId"]
    # invisible while unfinished
    assert s3.list_objects_v2(Bucket="mpu", Prefix="obj").get("KeyCount") == 0
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="mpu", Key="obj")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="mpu")["Uploads"]] == [uid]
    etags = []
    for i, d in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket="mpu", Key="obj", UploadId=uid, PartNumber=i, Body=d, ChecksumAlgorithm="CRC32")
        assert r["ETag"] == f'"{hashlib.md5(d).hexdigest()}"' and r["ChecksumCRC32"]
        etags.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    lp = s3.list_parts(Bucket="mpu", Key="obj", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2] and lp["IsTruncated"]
    lp = s3.list_parts(Bucket="mpu", Key="obj", UploadId=uid, PartNumberMarker=lp["NextPartNumberMarker"])
    assert [(p["PartNumber"], p["Size"]) for p in lp["Parts"]] == [(3, 1234)]
    # rule breaking completions leave the upload in place
    for bad, want in (([etags[1], etags[0], etags[2]], "InvalidPartOrder"),
                      ([{**etags[0], "ETag": '"00000000000000000000000000000000"'}], "InvalidPart"),
                      ([etags[0], {"PartNumber": 9, "ETag": etags[1]["ETag"]}], "InvalidPart"),
                      ([{**etags[0], "ChecksumCRC32": etags[1]["ChecksumCRC32"]}, *etags[1:]], "InvalidPart")):
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket="mpu", Key="obj", UploadId=uid, MultipartUpload={"Parts": bad})
        assert error_code(e) == want
    r = s3.complete_multipart_upload(Bucket="mpu", Key="obj", UploadId=uid, MultipartUpload={"Parts": etags})
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    assert r["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    whole = b"".join(parts_data)
    g = s3.get_object(Bucket="mpu", Key="obj")
    assert g["Body"].read() == whole and g["ContentType"] == "video/x" and g["Metadata"] == {"m": "1"}
    assert g["ETag"] == r["ETag"]
    p2 = s3.get_object(Bucket="mpu", Key="obj", PartNumber=2)
    assert p2["Body"].read() == parts_data[1] and p2["PartsCount"] == 3
    assert p2["ContentRange"] == f"bytes {5 * MiB}-{10 * MiB - 1}/{len(whole)}"
    # the same object through /v1, and the upload is gone
    v1 = httpx.get(f"{s3_srv.url}/v1/objects/mpu/obj")
    assert v1.content == whole and v1.headers["ais-checksum-value"] == hashlib.md5(whole).hexdigest()
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="mpu")
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="mpu", Key="obj", UploadId=uid)
    assert error_code(e) == "NoSuchUpload"


def test_entity_too_small_and_abort_cleans_up(s3: Any, s3_srv: Server) -> None:
    before = len(data_files(s3_srv))
    uid = s3.create_multipart_upload(Bucket="mpu", Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket="mpu", Key="small", UploadId=uid, PartNumber=1, Body=b"a" * 100)["ETag"]
    e2 = s3.upload_part(Bucket="mpu", Key="small", UploadId=uid, PartNumber=2, Body=b"b" * 100)["ETag"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpu", Key="small", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert error_code(e) == "EntityTooSmall"
    assert len(data_files(s3_srv)) == before + 2
    s3.abort_multipart_upload(Bucket="mpu", Key="small", UploadId=uid)
    assert len(settled_data_files(s3_srv, before)) == before
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="mpu", Key="small", UploadId=uid, PartNumber=3, Body=b"c")
    assert error_code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket="mpu", Key="small", UploadId=uid)
    assert error_code(e) == "NoSuchUpload"
    # a single small part is a valid upload
    uid = s3.create_multipart_upload(Bucket="mpu", Key="one")["UploadId"]
    e1 = s3.upload_part(Bucket="mpu", Key="one", UploadId=uid, PartNumber=1, Body=b"only")["ETag"]
    s3.complete_multipart_upload(Bucket="mpu", Key="one", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket="mpu", Key="one")["Body"].read() == b"only"


def test_upload_part_copy_and_listing_uploads(s3: Any) -> None:
    src = random_bytes(6 * MiB)
    s3.put_object(Bucket="mpu", Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket="mpu", Key="copied")["UploadId"]
    etag = s3.head_object(Bucket="mpu", Key="src")["ETag"]
    r1 = s3.upload_part_copy(Bucket="mpu", Key="copied", UploadId=uid, PartNumber=1, CopySource="mpu/src",
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}", CopySourceIfMatch=etag)
    r2 = s3.upload_part_copy(Bucket="mpu", Key="copied", UploadId=uid, PartNumber=2, CopySource="mpu/src",
                             CopySourceRange=f"bytes={5 * MiB}-{6 * MiB - 1}")
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket="mpu", Key="copied", UploadId=uid, PartNumber=3, CopySource="mpu/src",
                            CopySourceRange=f"bytes=0-{6 * MiB}")
    assert error_code(e) == "InvalidRange"
    s3.complete_multipart_upload(Bucket="mpu", Key="copied", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="mpu", Key="copied")["Body"].read() == src
    ids = [s3.create_multipart_upload(Bucket="mpu", Key=f"u/{k}")["UploadId"] for k in ("a", "b", "b", "c")]
    r = s3.list_multipart_uploads(Bucket="mpu", Prefix="u/", MaxUploads=2)
    assert r["IsTruncated"] and [u["Key"] for u in r["Uploads"]] == ["u/a", "u/b"]
    r = s3.list_multipart_uploads(Bucket="mpu", Prefix="u/", KeyMarker=r["NextKeyMarker"],
                                  UploadIdMarker=r["NextUploadIdMarker"])
    assert [u["Key"] for u in r["Uploads"]] == ["u/b", "u/c"] and not r["IsTruncated"]
    for k, i in zip(("a", "b", "b", "c"), ids):
        s3.abort_multipart_upload(Bucket="mpu", Key=f"u/{k}", UploadId=i)
    # deleting a bucket drops its unfinished uploads
    s3.create_bucket(Bucket="mpgone")
    s3.create_multipart_upload(Bucket="mpgone", Key="k")
    s3.delete_bucket(Bucket="mpgone")


def test_destroying_a_bucket_through_v1_drops_its_uploads_and_versions(s3: Any, s3_srv: Server) -> None:
    s3.create_bucket(Bucket="mpdestroy")
    s3.put_bucket_versioning(Bucket="mpdestroy", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="mpdestroy", Key="k", Body=b"old")
    s3.put_object(Bucket="mpdestroy", Key="k", Body=b"new")
    uid = s3.create_multipart_upload(Bucket="mpdestroy", Key="u")["UploadId"]
    s3.upload_part(Bucket="mpdestroy", Key="u", UploadId=uid, PartNumber=1, Body=b"p")
    before = len(data_files(s3_srv))
    assert httpx.delete(f"{s3_srv.url}/v1/buckets/mpdestroy").status_code == 200
    assert len(settled_data_files(s3_srv, before - 3)) == before - 3
    s3.create_bucket(Bucket="mpdestroy")
    assert "Versions" not in s3.list_object_versions(Bucket="mpdestroy")
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="mpdestroy")


def test_unfinished_upload_survives_a_restart(s3: Any, s3_srv: Server) -> None:
    uid = s3.create_multipart_upload(Bucket="mpu", Key="across-restart")["UploadId"]
    first = random_bytes(5 * MiB)
    e1 = s3.upload_part(Bucket="mpu", Key="across-restart", UploadId=uid, PartNumber=1, Body=first)["ETag"]
    s3_srv.restart()
    e2 = s3.upload_part(Bucket="mpu", Key="across-restart", UploadId=uid, PartNumber=2, Body=b"after")["ETag"]
    s3.complete_multipart_upload(Bucket="mpu", Key="across-restart", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert s3.get_object(Bucket="mpu", Key="across-restart")["Body"].read() == first + b"after"


def b64(digest: int, size: int) -> str:
    return base64.b64encode(digest.to_bytes(size, "big")).decode()


def test_full_object_checksums(s3: Any) -> None:
    """CRC64NVME is always S3's FULL_OBJECT type (a checksum of all the bytes, not of the parts' checksums);
    CRC32 may be either; a full-object value the client claims on completion is checked."""
    parts_data = [random_bytes(5 * MiB), random_bytes(777)]
    whole = b"".join(parts_data)
    up = s3.create_multipart_upload(Bucket="mpu", Key="c64", ChecksumAlgorithm="CRC64NVME")
    assert up["ChecksumAlgorithm"] == "CRC64NVME" and up["ChecksumType"] == "FULL_OBJECT"
    uid, parts = up["UploadId"], []
    for i, d in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket="mpu", Key="c64", UploadId=uid, PartNumber=i, Body=d, ChecksumAlgorithm="CRC64NVME")
        assert r["ChecksumCRC64NVME"] == b64(crc64nvme(d), 8)
        parts.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC64NVME": r["ChecksumCRC64NVME"]})
    with pytest.raises(ClientError) as e:   # a wrong claim for the whole object: nothing is stored
        no_retries(s3).complete_multipart_upload(Bucket="mpu", Key="c64", UploadId=uid,
                                                 MultipartUpload={"Parts": parts}, ChecksumType="FULL_OBJECT",
                                                 ChecksumCRC64NVME=b64(crc64nvme(b"other"), 8))
    assert error_code(e) == "BadDigest"
    assert len(s3.list_parts(Bucket="mpu", Key="c64", UploadId=uid)["Parts"]) == 2
    r = s3.complete_multipart_upload(Bucket="mpu", Key="c64", UploadId=uid, MultipartUpload={"Parts": parts},
                                     ChecksumCRC64NVME=b64(crc64nvme(whole), 8), ChecksumType="FULL_OBJECT")
    assert r["ChecksumCRC64NVME"] == b64(crc64nvme(whole), 8) and r["ChecksumType"] == "FULL_OBJECT"
    g = s3.get_object(Bucket="mpu", Key="c64", ChecksumMode="ENABLED")
    assert g["Body"].read() == whole and g["ChecksumCRC64NVME"] == r["ChecksumCRC64NVME"]
    # CRC32 as FULL_OBJECT; the composite-only and full-object-only algorithms refuse the other type
    uid = s3.create_multipart_upload(Bucket="mpu", Key="c32", ChecksumAlgorithm="CRC32",
                                     ChecksumType="FULL_OBJECT")["UploadId"]
    r = s3.upload_part(Bucket="mpu", Key="c32", UploadId=uid, PartNumber=1, Body=whole, ChecksumAlgorithm="CRC32")
    r = s3.complete_multipart_upload(Bucket="mpu", Key="c32", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]}]})
    assert r["ChecksumCRC32"] == b64(zlib.crc32(whole), 4) and r["ChecksumType"] == "FULL_OBJECT"
    for algo, kind in (("CRC64NVME", "COMPOSITE"), ("SHA256", "FULL_OBJECT")):
        with pytest.raises(ClientError) as e:
            s3.create_multipart_upload(Bucket="mpu", Key="no", ChecksumAlgorithm=algo, ChecksumType=kind)
        assert error_code(e) == "InvalidRequest"


def test_upload_part_copy_has_the_uploads_checksum(s3: Any) -> None:
    """A copied part gets its checksum in the upload's algorithm, so the object gets the COMPOSITE checksum
    a client computes from the parts, as if every part had been uploaded."""
    src = random_bytes(6 * MiB)
    s3.put_object(Bucket="mpu", Key="csrc", Body=src)
    uid = s3.create_multipart_upload(Bucket="mpu", Key="ccopy", ChecksumAlgorithm="CRC32C")["UploadId"]
    pieces = [src[:5 * MiB], src[5 * MiB:]]
    parts = []
    for i, (first, piece) in enumerate(((0, pieces[0]), (5 * MiB, pieces[1])), 1):
        r = s3.upload_part_copy(Bucket="mpu", Key="ccopy", UploadId=uid, PartNumber=i, CopySource="mpu/csrc",
                                CopySourceRange=f"bytes={first}-{first + len(piece) - 1}")["CopyPartResult"]
        want = base64.b64encode(crc32c.crc32c(piece).to_bytes(4, "big")).decode()
        assert r["ChecksumCRC32C"] == want
        parts.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32C": want})
    listed = s3.list_parts(Bucket="mpu", Key="ccopy", UploadId=uid)["Parts"]
    assert [p["ChecksumCRC32C"] for p in listed] == [p["ChecksumCRC32C"] for p in parts]
    s3.complete_multipart_upload(Bucket="mpu", Key="ccopy", UploadId=uid, MultipartUpload={"Parts": parts})
    head = s3.head_object(Bucket="mpu", Key="ccopy", ChecksumMode="ENABLED")
    combined = crc32c.crc32c(b"".join(base64.b64decode(p["ChecksumCRC32C"]) for p in parts))
    assert head["ChecksumCRC32C"] == base64.b64encode(combined.to_bytes(4, "big")).decode() + "-2"
    assert s3.get_object(Bucket="mpu", Key="ccopy")["Body"].read() == src
