"""S3 versioning beyond AIStore: older versions stay readable, delete markers, Suspended and `null`."""
from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from support import Server


def versions_of(s3: Any, bucket: str, key: str) -> list[tuple[str, bool, bool]]:
    """(version id, is latest, is delete marker), newest first."""
    r = s3.list_object_versions(Bucket=bucket, Prefix=key)
    out = [(v["VersionId"], v["IsLatest"], False, v["LastModified"]) for v in r.get("Versions", []) if v["Key"] == key]
    out += [(d["VersionId"], d["IsLatest"], True, d["LastModified"]) for d in r.get("DeleteMarkers", []) if d["Key"] == key]
    out.sort(key=lambda t: t[3], reverse=True)
    return [t[:3] for t in out]


def test_enabled_keeps_every_version(s3: Any, s3_srv: Server) -> None:
    s3.create_bucket(Bucket="ver")
    assert "Status" not in s3.get_bucket_versioning(Bucket="ver")
    s3.put_object(Bucket="ver", Key="k", Body=b"before")        # the null version, from before versioning
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="ver")["Status"] == "Enabled"
    v1 = s3.put_object(Bucket="ver", Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="ver", Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and "null" not in (v1, v2)
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"two"
    assert s3.get_object(Bucket="ver", Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket="ver", Key="k", VersionId="null")["Body"].read() == b"before"
    assert s3.head_object(Bucket="ver", Key="k", VersionId=v1)["ContentLength"] == 3
    assert s3.get_object(Bucket="ver", Key="k")["VersionId"] == v2
    vs = versions_of(s3, "ver", "k")
    assert [v[0] for v in vs] == [v2, v1, "null"] and [v[1] for v in vs] == [True, False, False]
    # the engine and /v1 show the same current version
    v1r = httpx.get(f"{s3_srv.url}/v1/objects/ver/k")
    assert v1r.content == b"two"
    # delete adds a marker; older versions stay readable
    d = s3.delete_object(Bucket="ver", Key="k")
    assert d["DeleteMarker"] and d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ver", Key="k")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="ver", Key="k", VersionId=d["VersionId"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    assert s3.get_object(Bucket="ver", Key="k", VersionId=v2)["Body"].read() == b"two"
    assert "Contents" not in s3.list_objects_v2(Bucket="ver", Prefix="k")
    vs = versions_of(s3, "ver", "k")
    assert vs[0] == (d["VersionId"], True, True) and len(vs) == 4
    # removing the marker by id brings the newest version back
    s3.delete_object(Bucket="ver", Key="k", VersionId=d["VersionId"])
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"two"
    # deleting the current version by id promotes the previous one
    s3.delete_object(Bucket="ver", Key="k", VersionId=v2)
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ver", Key="k", VersionId=v2)
    assert e.value.response["Error"]["Code"] == "NoSuchVersion"
    # copy from an older version
    s3.copy_object(Bucket="ver", Key="restored", CopySource={"Bucket": "ver", "Key": "k", "VersionId": "null"})
    assert s3.get_object(Bucket="ver", Key="restored")["Body"].read() == b"before"
    # a bucket holding versions is not empty
    for v in s3.list_object_versions(Bucket="ver").get("Versions", []):
        s3.delete_object(Bucket="ver", Key=v["Key"], VersionId=v["VersionId"])
    s3.put_object(Bucket="ver", Key="x", Body=b"x")
    s3.delete_object(Bucket="ver", Key="x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="ver")
    assert e.value.response["Error"]["Code"] == "BucketNotEmpty"


def test_suspended_writes_the_null_version(s3: Any) -> None:
    s3.create_bucket(Bucket="sus")
    s3.put_bucket_versioning(Bucket="sus", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="sus", Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket="sus", VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket="sus", Key="k", Body=b"n1").get("VersionId") == "null"
    assert s3.put_object(Bucket="sus", Key="k", Body=b"n2").get("VersionId") == "null"
    assert [v[0] for v in versions_of(s3, "sus", "k")] == ["null", v1]
    assert s3.get_object(Bucket="sus", Key="k")["Body"].read() == b"n2"
    assert s3.get_object(Bucket="sus", Key="k", VersionId=v1)["Body"].read() == b"kept"
    d = s3.delete_object(Bucket="sus", Key="k")
    assert d["DeleteMarker"] and d["VersionId"] == "null"
    assert versions_of(s3, "sus", "k") == [("null", True, True), (v1, False, False)]


def test_delete_objects_in_a_versioned_bucket(s3: Any) -> None:
    """DeleteObjects as for one key at a time: a plain key gets a delete marker (reported with its id), a
    key with a VersionId loses that version, and a version id that does not exist is no error (as S3 answers
    a DeleteObject of one)."""
    s3.create_bucket(Bucket="vdel")
    s3.put_bucket_versioning(Bucket="vdel", VersioningConfiguration={"Status": "Enabled"})
    a1 = s3.put_object(Bucket="vdel", Key="a", Body=b"a1")["VersionId"]
    a2 = s3.put_object(Bucket="vdel", Key="a", Body=b"a2")["VersionId"]
    s3.put_object(Bucket="vdel", Key="b", Body=b"b1")
    r = s3.delete_objects(Bucket="vdel", Delete={"Objects": [
        {"Key": "a", "VersionId": a2}, {"Key": "b"}, {"Key": "c", "VersionId": "0000000000000000abcdefabcdef"}]})
    deleted = {d["Key"]: d for d in r["Deleted"]}
    assert deleted["a"]["VersionId"] == a2 and not deleted["a"].get("DeleteMarker")
    assert deleted["b"]["DeleteMarker"] and deleted["b"]["DeleteMarkerVersionId"]
    assert "Errors" not in r and deleted["c"]["VersionId"] == "0000000000000000abcdefabcdef"
    assert s3.get_object(Bucket="vdel", Key="a")["Body"].read() == b"a1"   # the older version is current again
    assert versions_of(s3, "vdel", "a") == [(a1, True, False)]
    assert versions_of(s3, "vdel", "b")[0] == (deleted["b"]["DeleteMarkerVersionId"], True, True)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="vdel").get("Contents", [])] == ["a"]


def test_list_versions_paging(s3: Any) -> None:
    s3.create_bucket(Bucket="vpage")
    s3.put_bucket_versioning(Bucket="vpage", VersioningConfiguration={"Status": "Enabled"})
    want = []
    for key in ("a", "b/1", "b/2", "c"):
        for i in range(3):
            want.append((key, s3.put_object(Bucket="vpage", Key=key, Body=str(i).encode())["VersionId"]))
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="vpage", PaginationConfig={"PageSize": 2}):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    expected = sorted(want, key=lambda kv: (kv[0], [-ord(c) for c in kv[1]]))
    assert seen == expected
    r = s3.list_object_versions(Bucket="vpage", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]
    assert {v["Key"] for v in r["Versions"]} == {"a", "c"}
    seen_prefixes, seen_keys = [], []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="vpage", Delimiter="/",
                                                                  PaginationConfig={"PageSize": 2}):
        seen_prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        seen_keys += [v["Key"] for v in page.get("Versions", [])]
    assert seen_prefixes == ["b/"] and seen_keys == ["a"] * 3 + ["c"] * 3


async def test_list_versions_pages_match_a_model(tmp_path: Any) -> None:
    """Engine level: every version of every key, in S3 order, whatever the page size and delimiter."""
    import random

    from engine import Engine, versions
    rng = random.Random(7)
    async with Engine.open(tmp_path / "eng") as eng:
        await eng.create_bucket("model")
        await eng.set_bucket_props("model", {"versioning.s3": "Enabled"})
        model: dict[str, list[str]] = {}
        keys = [f"{d}/{i}" for d in ("a", "b", "c") for i in range(12)] + ["z"]
        for _ in range(300):
            k = rng.choice(keys)
            if rng.random() < 0.15:
                model.setdefault(k, []).insert(0, (await versions.delete(eng, "model", k)).vid)
            else:
                model.setdefault(k, []).insert(0, (await eng.put_object("model", k, b"x")).vid)
        want = [(k, v) for k in sorted(model) for v in model[k]]
        for limit in (1, 3, 7, 1000):
            got, km, vm = [], "", ""
            while True:
                page, truncated, km, vm = versions.list_versions(eng, "model", key_marker=km, vid_marker=vm,
                                                                  limit=limit)
                got += [(e.meta.key, e.meta.vid) for e in page if not isinstance(e, str)]
                if not truncated:
                    break
            assert got == want, limit
        page, _, _, _ = versions.list_versions(eng, "model", delimiter="/", limit=1000)
        assert [e for e in page if isinstance(e, str)] == ["a/", "b/", "c/"]
