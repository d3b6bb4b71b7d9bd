"""The S3 face driven by boto3 with default settings: buckets, objects, listing, conditions, copy."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import zlib
from typing import Any, Callable

import httpx
import pytest
import xxhash
from awscrt.checksums import crc64nvme
from botocore.exceptions import ClientError

from s3kit import client, error_code, iter_keys, no_retries, random_bytes
from support import Server


def test_buckets_lifecycle(s3: Any, s3_srv: Server) -> None:
    s3.create_bucket(Bucket="life")
    assert "life" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    head = s3.head_bucket(Bucket="life")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket="life").get("LocationConstraint") in (None, "")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="life")
    assert error_code(e) == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket="life", Key="x", Body=b"1")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="life")
    assert error_code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="life", Key="x")
    s3.delete_bucket(Bucket="life")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="life")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="life")
    assert error_code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert error_code(e) == "InvalidBucketName"
    # LocationConstraint is accepted; buckets made through S3 keep MD5s (config s3.default_checksum)
    s3.create_bucket(Bucket="located", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    props = httpx.head(f"{s3_srv.url}/v1/buckets/located").headers["ais-bucket-props"]
    assert '"type": "md5"' in props


def test_put_get_head_delete(s3: Any, s3_srv: Server) -> None:
    s3.create_bucket(Bucket="objs")
    data = random_bytes(300_000)
    key = "dir/ünïcode key+with%chars.bin"
    r = s3.put_object(Bucket="objs", Key=key, Body=data, ContentType="application/x-test",
                      Metadata={"color": "blue"}, CacheControl="max-age=60", ContentDisposition="inline",
                      ContentLanguage="en", Expires=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    md5 = hashlib.md5(data).hexdigest()
    assert r["ETag"] == f'"{md5}"'
    # boto3 sends its CRC32 as a trailer: the answer carries it, and nothing of the stored headers
    sent = r["ResponseMetadata"]["HTTPHeaders"]
    assert r["ChecksumCRC32"] == base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert "cache-control" not in sent and "content-disposition" not in sent
    g = s3.get_object(Bucket="objs", Key=key)
    assert g["Body"].read() == data
    assert g["ETag"] == f'"{md5}"' and g["ContentType"] == "application/x-test"
    assert g["Metadata"] == {"color": "blue"}
    assert g["CacheControl"] == "max-age=60" and g["ContentDisposition"] == "inline" and g["ContentLanguage"] == "en"
    assert g["Expires"].year == 2030 if isinstance(g.get("Expires"), dt.datetime) else True
    h = s3.head_object(Bucket="objs", Key=key)
    assert h["ContentLength"] == len(data) and h["LastModified"].tzinfo is not None
    # the same object through /v1: same bytes and checksum
    v1 = httpx.get(f"{s3_srv.url}/v1/objects/objs/{httpx.URL('/' + key).raw_path.decode()[1:]}")
    assert v1.status_code == 200 and v1.content == data
    assert v1.headers["ais-checksum-type"] == "md5" and v1.headers["ais-checksum-value"] == md5
    # ranges, overrides, partNumber of a plain object
    assert s3.get_object(Bucket="objs", Key=key, Range="bytes=10-19")["Body"].read() == data[10:20]
    assert s3.get_object(Bucket="objs", Key=key, Range="bytes=-5")["Body"].read() == data[-5:]
    # several ranges: the whole object, 200 and no Content-Range, as S3 answers them
    o = s3.get_object(Bucket="objs", Key=key, Range="bytes=0-1,5-9")
    assert o["ResponseMetadata"]["HTTPStatusCode"] == 200 and "ContentRange" not in o
    assert o["Body"].read() == data
    o = s3.get_object(Bucket="objs", Key=key, ResponseContentType="text/plain", ResponseContentDisposition="attachment")
    assert o["ContentType"] == "text/plain" and o["ContentDisposition"] == "attachment"
    assert s3.get_object(Bucket="objs", Key=key, PartNumber=1)["ContentLength"] == len(data)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="objs", Key=key, Range=f"bytes={len(data)}-")
    assert error_code(e) == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["content-range"] == f"bytes */{len(data)}"
    # checksums: boto3 sent CRC32 and gets it back when it asks
    h = s3.head_object(Bucket="objs", Key=key, ChecksumMode="ENABLED")
    assert h.get("ChecksumCRC32")
    # delete, missing key, missing bucket
    assert s3.delete_object(Bucket="objs", Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket="objs", Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="objs", Key=key)
    assert error_code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="nobucket", Key="k", Body=b"")
    assert error_code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="objs", Key="k" * 1025, Body=b"")
    assert error_code(e) == "KeyTooLongError"


def test_conditional_get(s3: Any) -> None:
    s3.create_bucket(Bucket="cond")
    etag = s3.put_object(Bucket="cond", Key="k", Body=b"abc")["ETag"]
    lm = s3.head_object(Bucket="cond", Key="k")["LastModified"]
    assert s3.get_object(Bucket="cond", Key="k", IfMatch=etag)["Body"].read() == b"abc"
    for kw, status in ((dict(IfMatch='"0000"'), 412), (dict(IfNoneMatch=etag), 304),
                       (dict(IfModifiedSince=lm + dt.timedelta(seconds=5)), 304),
                       (dict(IfUnmodifiedSince=lm - dt.timedelta(days=1)), 412)):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket="cond", Key="k", **kw)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, kw
    assert s3.get_object(Bucket="cond", Key="k", IfNoneMatch='"other"')["Body"].read() == b"abc"
    assert s3.get_object(Bucket="cond", Key="k", IfModifiedSince=lm - dt.timedelta(days=1))["Body"].read() == b"abc"


def test_listing_v1_v2(s3: Any) -> None:
    s3.create_bucket(Bucket="lst")
    keys = ["a/1", "a/2", "a/b/3", "b+c", "b c", "d/", "e%f", "zz/ü/1"] + [f"many/{i:03d}" for i in range(25)]
    for k in keys:
        s3.put_object(Bucket="lst", Key=k, Body=b"x")
    assert list(iter_keys(s3, "lst", PaginationConfig={"PageSize": 4})) == sorted(keys, key=lambda k: k.encode())
    r = s3.list_objects_v2(Bucket="lst", MaxKeys=5)
    assert r["IsTruncated"] and r["KeyCount"] == 5 and r["NextContinuationToken"]
    r = s3.list_objects_v2(Bucket="lst", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "d/", "many/", "zz/"]
    assert [o["Key"] for o in r["Contents"]] == ["b c", "b+c", "e%f"]
    r = s3.list_objects_v2(Bucket="lst", Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"] and r["CommonPrefixes"] == [{"Prefix": "a/b/"}]
    r = s3.list_objects_v2(Bucket="lst", Delimiter="b")   # any delimiter
    assert {p["Prefix"] for p in r["CommonPrefixes"]} == {"a/b", "b"}
    r = s3.list_objects_v2(Bucket="lst", StartAfter="many/020", Prefix="many/")
    assert [o["Key"] for o in r["Contents"]] == [f"many/{i:03d}" for i in range(21, 25)]
    r = s3.list_objects_v2(Bucket="lst", Prefix="many/", MaxKeys=1, FetchOwner=True)
    assert r["Contents"][0]["Owner"]["ID"]
    # v1 with markers, paging through common prefixes
    seen, marker = [], ""
    while True:
        r = s3.list_objects(Bucket="lst", Delimiter="/", MaxKeys=2, Marker=marker)
        seen += [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        marker = r["NextMarker"]
    assert sorted(seen) == sorted(["a/", "b c", "b+c", "d/", "e%f", "many/", "zz/"])
    r = s3.list_objects_v2(Bucket="lst", MaxKeys=0)
    assert r["KeyCount"] == 0 and not r["IsTruncated"]
    assert s3.list_objects_v2(Bucket="lst", Prefix="zz/ü/")["Contents"][0]["Key"] == "zz/ü/1"


def test_delete_objects_and_copy(s3: Any) -> None:
    s3.create_bucket(Bucket="cp1")
    s3.create_bucket(Bucket="cp2")
    for i in range(5):
        s3.put_object(Bucket="cp1", Key=f"k{i}", Body=f"v{i}".encode(), Metadata={"n": str(i)}, ContentType="text/x")
    r = s3.delete_objects(Bucket="cp1", Delete={"Objects": [{"Key": "k0"}, {"Key": "k1"}, {"Key": "absent"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["absent", "k0", "k1"]
    r = s3.delete_objects(Bucket="cp1", Delete={"Objects": [{"Key": "k2"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert list(iter_keys(s3, "cp1")) == ["k3", "k4"]
    # a batch larger than the engine's per-transaction batch, with a key named twice
    for i in range(150):
        s3.put_object(Bucket="cp1", Key=f"m/{i:03d}", Body=b"m%d" % i)
    keys = [f"m/{i:03d}" for i in range(150)] + ["m/000", "m/absent"]
    r = s3.delete_objects(Bucket="cp1", Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(keys) and "Errors" not in r
    assert list(iter_keys(s3, "cp1", Prefix="m/")) == []
    s3.put_object(Bucket="cp1", Key="m/000", Body=b"again")
    assert s3.get_object(Bucket="cp1", Key="m/000")["Body"].read() == b"again"
    s3.delete_object(Bucket="cp1", Key="m/000")
    # copy across buckets keeps metadata (COPY), REPLACE replaces it
    r = s3.copy_object(Bucket="cp2", Key="c3", CopySource={"Bucket": "cp1", "Key": "k3"})
    g = s3.get_object(Bucket="cp2", Key="c3")
    assert g["Body"].read() == b"v3" and g["Metadata"] == {"n": "3"} and g["ContentType"] == "text/x"
    assert r["CopyObjectResult"]["ETag"] == g["ETag"]
    s3.copy_object(Bucket="cp2", Key="c4", CopySource="cp1/k4", MetadataDirective="REPLACE",
                   Metadata={"new": "yes"}, ContentType="text/y")
    g = s3.get_object(Bucket="cp2", Key="c4")
    assert g["Metadata"] == {"new": "yes"} and g["ContentType"] == "text/y"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp1", Key="k3", CopySource="cp1/k3")
    assert error_code(e) == "InvalidRequest"
    s3.copy_object(Bucket="cp1", Key="k3", CopySource="cp1/k3", StorageClass="STANDARD")  # rclone settier
    g = s3.get_object(Bucket="cp1", Key="k3")
    assert g["Body"].read() == b"v3" and g["Metadata"] == {"n": "3"} and g["ContentType"] == "text/x"
    etag = s3.head_object(Bucket="cp1", Key="k3")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp2", Key="c5", CopySource="cp1/k3", CopySourceIfNoneMatch=etag)
    assert error_code(e) == "PreconditionFailed"
    s3.copy_object(Bucket="cp2", Key="c5", CopySource="cp1/k3", CopySourceIfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp2", Key="c6", CopySource="cp1/absent")
    assert error_code(e) == "NoSuchKey"


def test_transfer_manager_multipart_and_unsupported(s3: Any) -> None:
    s3.create_bucket(Bucket="big")
    data = random_bytes(20 << 20)
    s3.upload_fileobj(io.BytesIO(data), "big", "obj")
    h = s3.head_object(Bucket="big", Key="obj")
    assert h["ETag"].endswith('-3"') and h["ContentLength"] == len(data)
    out = io.BytesIO()
    s3.download_fileobj("big", "obj", out)
    assert out.getvalue() == data
    assert s3.get_object(Bucket="big", Key="obj", PartNumber=2)["Body"].read() == data[8 << 20:16 << 20]
    for call in (lambda: s3.get_bucket_policy(Bucket="big"), lambda: s3.get_bucket_lifecycle_configuration(Bucket="big"),
                 lambda: s3.get_bucket_cors(Bucket="big"), lambda: s3.get_object_tagging(Bucket="big", Key="obj")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "NotImplemented" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert s3.get_bucket_acl(Bucket="big")["Grants"][0]["Permission"] == "FULL_CONTROL"


def test_writes_asking_for_what_is_not_kept_are_refused(s3: Any) -> None:
    """Encryption, object lock, tags, public ACLs: NotImplemented, and nothing written, rather than an object
    the client believes encrypted, locked, tagged or public."""
    s3.create_bucket(Bucket="unkept")
    asks = [{"ServerSideEncryption": "AES256"}, {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k"},
            {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2030-01-01T00:00:00Z"},
            {"ObjectLockLegalHoldStatus": "ON"}, {"Tagging": "k=v"}, {"ACL": "public-read"},
            {"WebsiteRedirectLocation": "/elsewhere"}]
    for extra in asks:
        for call in (lambda: s3.put_object(Bucket="unkept", Key="k", Body=b"x", **extra),
                     lambda: s3.create_multipart_upload(Bucket="unkept", Key="k", **extra)):
            with pytest.raises(ClientError) as e:
                call()
            assert error_code(e) == "NotImplemented", extra
    s3.put_object(Bucket="unkept", Key="src", Body=b"s")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="unkept", Key="k", CopySource="unkept/src", ServerSideEncryption="AES256")
    assert error_code(e) == "NotImplemented"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    assert error_code(e) == "NotImplemented"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="unkept")["Contents"]] == ["src"]
    assert "locked" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # what every object has anyway is accepted: the private ACL, a storage class (kept as STANDARD)
    s3.put_object(Bucket="unkept", Key="ok", Body=b"o", ACL="private", StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket="unkept", Key="ok")["ContentLength"] == 1


def test_the_private_acl_can_be_set_again_and_no_other(s3: Any) -> None:
    s3.create_bucket(Bucket="acls")
    s3.put_object(Bucket="acls", Key="k", Body=b"x")
    s3.put_bucket_acl(Bucket="acls", ACL="private")
    s3.put_object_acl(Bucket="acls", Key="k", ACL="private")
    owner = s3.get_object_acl(Bucket="acls", Key="k")
    s3.put_object_acl(Bucket="acls", Key="k",  # the policy GetObjectAcl gave, sent back (as `cp -p` tools do)
                      AccessControlPolicy={"Grants": owner["Grants"], "Owner": owner["Owner"]})
    public = {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}
    for call in (lambda: s3.put_object_acl(Bucket="acls", Key="k", ACL="public-read"),
                 lambda: s3.put_bucket_acl(Bucket="acls", GrantRead="uri=http://acs.amazonaws.com/groups/global/AllUsers"),
                 lambda: s3.put_object_acl(Bucket="acls", Key="k",
                                           AccessControlPolicy={"Grants": [*owner["Grants"], public], "Owner": owner["Owner"]})):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "NotImplemented"
    for call in (lambda: s3.put_object_acl(Bucket="acls", Key="absent", ACL="private"),
                 lambda: s3.get_object_acl(Bucket="acls", Key="absent")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "NoSuchKey"
    assert s3.get_object(Bucket="acls", Key="k")["Body"].read() == b"x"


def test_get_object_attributes(s3: Any) -> None:
    """GetObjectAttributes of a plain object (boto3's default CRC32 stored with it), a multipart one, and
    an older version; the attributes header is required."""
    s3.create_bucket(Bucket="attrs")
    s3.put_bucket_versioning(Bucket="attrs", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="attrs", Key="k", Body=b"one")
    s3.put_object(Bucket="attrs", Key="k", Body=b"second")
    every = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
    r = s3.get_object_attributes(Bucket="attrs", Key="k", ObjectAttributes=every)
    h = s3.head_object(Bucket="attrs", Key="k", ChecksumMode="ENABLED")
    assert r["ETag"] == h["ETag"].strip('"') and r["ObjectSize"] == 6 and r["StorageClass"] == "STANDARD"
    assert r["Checksum"]["ChecksumCRC32"] == h["ChecksumCRC32"] and "ObjectParts" not in r
    assert r["VersionId"] == h["VersionId"] and r["LastModified"] == h["LastModified"]
    old = s3.get_object_attributes(Bucket="attrs", Key="k", VersionId=first["VersionId"], ObjectAttributes=["ObjectSize"])
    assert old["ObjectSize"] == 3 and "ETag" not in old
    s3.upload_fileobj(io.BytesIO(random_bytes(12 << 20)), "attrs", "mp")
    r = s3.get_object_attributes(Bucket="attrs", Key="mp", ObjectAttributes=every)
    assert r["ObjectParts"]["TotalPartsCount"] == 2 and r["ETag"].endswith("-2") and r["ObjectSize"] == 12 << 20
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket="attrs", Key="absent", ObjectAttributes=["ETag"])
    assert error_code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket="attrs", Key="k", ObjectAttributes=["Colour"])
    assert error_code(e) == "InvalidArgument"


def test_crc64nvme_put_and_transfer_manager(s3: Any) -> None:
    """CRC64NVME from boto3 (computed by awscrt on its side): verified, stored, returned and checked on GET."""
    s3.create_bucket(Bucket="c64")
    data = random_bytes(300_000)
    want = base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode()
    r = s3.put_object(Bucket="c64", Key="one", Body=data, ChecksumAlgorithm="CRC64NVME")
    assert r["ChecksumCRC64NVME"] == want and r["ChecksumType"] == "FULL_OBJECT"
    g = s3.get_object(Bucket="c64", Key="one", ChecksumMode="ENABLED")   # botocore checks the body against it
    assert g["Body"].read() == data and g["ChecksumCRC64NVME"] == want
    with pytest.raises(ClientError) as e:
        no_retries(s3).put_object(Bucket="c64", Key="bad", Body=data,
                                  ChecksumCRC64NVME=base64.b64encode(bytes(8)).decode())
    assert error_code(e) == "BadDigest"
    # the transfer manager's multipart upload gets S3's FULL_OBJECT crc64nvme of the whole object
    big = random_bytes(20 << 20)
    s3.upload_fileobj(io.BytesIO(big), "c64", "big", ExtraArgs={"ChecksumAlgorithm": "CRC64NVME"})
    h = s3.head_object(Bucket="c64", Key="big", ChecksumMode="ENABLED")
    assert h["ETag"].endswith('-3"') and h["ChecksumType"] == "FULL_OBJECT"
    assert h["ChecksumCRC64NVME"] == base64.b64encode(crc64nvme(big).to_bytes(8, "big")).decode()
    out = io.BytesIO()
    s3.download_fileobj("c64", "big", out, ExtraArgs={"ChecksumMode": "ENABLED"})
    assert out.getvalue() == big


@pytest.mark.parametrize("algo,digest", [
    ("SHA512", lambda d: hashlib.sha512(d).digest()),
    ("XXHASH64", lambda d: xxhash.xxh64(d).digest()),
    ("XXHASH3", lambda d: xxhash.xxh3_64(d).digest()),
    ("XXHASH128", lambda d: xxhash.xxh3_128(d).digest()),
])
def test_newer_checksum_algorithms(s3: Any, algo: str, digest: Callable[[bytes], bytes]) -> None:
    """botocore's newer flexible checksums: verified on PUT (a wrong one is BadDigest), stored, and returned on
    GET with ChecksumMode, where botocore checks the body against them; also as a multipart upload's algorithm."""
    bucket = f"ck-{algo.lower()}"
    s3.create_bucket(Bucket=bucket)
    data = random_bytes(200_000)
    want = base64.b64encode(digest(data)).decode()
    r = s3.put_object(Bucket=bucket, Key="one", Body=data, ChecksumAlgorithm=algo)
    assert r[f"Checksum{algo}"] == want
    g = s3.get_object(Bucket=bucket, Key="one", ChecksumMode="ENABLED")
    assert g["Body"].read() == data and g[f"Checksum{algo}"] == want
    wrong = base64.b64encode(bytes(len(digest(b"")))).decode()
    with pytest.raises(ClientError) as e:
        no_retries(s3).put_object(Bucket=bucket, Key="bad", Body=data, **{f"Checksum{algo}": wrong})
    assert error_code(e) == "BadDigest"
    big = random_bytes(12 << 20)
    s3.upload_fileobj(io.BytesIO(big), bucket, "big", ExtraArgs={"ChecksumAlgorithm": algo})
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big", out, ExtraArgs={"ChecksumMode": "ENABLED"})
    assert out.getvalue() == big


def test_served_at_root_too(s3_srv: Server) -> None:
    root = client(s3_srv.url)
    root.create_bucket(Bucket="rooted")
    root.put_object(Bucket="rooted", Key="k", Body=b"root")
    assert client(f"{s3_srv.url}/s3").get_object(Bucket="rooted", Key="k")["Body"].read() == b"root"


def test_objects_written_through_v1(s3: Any, s3_srv: Server) -> None:
    """A bucket made through /v1 keeps the engine's default checksum: S3 serves it with a non-MD5 ETag."""
    assert httpx.post(f"{s3_srv.url}/v1/buckets/native", json={"action": "create-bck"}).status_code == 200
    assert httpx.put(f"{s3_srv.url}/v1/objects/native/a/b", content=b"native bytes").status_code == 200
    g = s3.get_object(Bucket="native", Key="a/b")
    assert g["Body"].read() == b"native bytes"
    etag = g["ETag"].strip('"')
    assert len(etag) != 32 and etag == s3.list_objects_v2(Bucket="native")["Contents"][0]["ETag"].strip('"')
    # metadata whose name no HTTP header can carry is counted, as S3 does, not sent
    r = httpx.put(f"{s3_srv.url}/v1/objects/native/odd-meta", content=b"m", headers={"ais-custom-md": "ok=1,bad name=2"})
    assert r.status_code == 200
    h = s3.head_object(Bucket="native", Key="odd-meta")
    assert h["Metadata"] == {"ok": "1"} and h["MissingMeta"] == 1
    s3.put_object(Bucket="native", Key="from-s3", Body=b"s3 bytes")
    v1 = httpx.get(f"{s3_srv.url}/v1/objects/native/from-s3")
    assert v1.content == b"s3 bytes" and v1.headers["etag"] == s3.head_object(Bucket="native", Key="from-s3")["ETag"]
