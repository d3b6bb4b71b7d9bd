"""AIStore's own Python SDK (`aistore` from PyPI) against the REST face: what its users call first."""
from __future__ import annotations

import aistore.sdk as sdk
import httpx
import pytest

from support import Server


@pytest.fixture
def client(server: Server) -> "sdk.Client":
    return sdk.Client(server.url)


def test_buckets_and_objects_through_the_sdk(client: "sdk.Client") -> None:
    bck = client.bucket("sdk-b")
    bck.create()
    assert "sdk-b" in [b.name for b in client.cluster().list_buckets()]
    bck.object("a/one").get_writer().put_content(b"hello world")
    bck.object("a/two").get_writer().put_content(b"x" * 1000)

    assert bck.object("a/one").get_reader().read_all() == b"hello world"
    assert bck.object("a/one").get_reader(byte_range="bytes=6-10").read_all() == b"world"
    props = bck.object("a/one").head()
    assert props.size == 11 and props.checksum_type == "xxhash" and props.checksum_value
    assert [e.name for e in bck.list_all_objects(prefix="a/")] == ["a/one", "a/two"]

    bck.object("a/one").copy(bck.object("a/copy"))
    assert bck.object("a/copy").get_reader().read_all() == b"hello world"
    bck.object("a/two").delete()
    assert [e.name for e in bck.list_all_objects()] == ["a/copy", "a/one"]
    bck.delete()
    assert "sdk-b" not in [b.name for b in client.cluster().list_buckets()]


def test_bucket_summary_and_info(client: "sdk.Client") -> None:
    bck = client.bucket("sdk-summ")
    bck.create()
    empty = bck.summary()
    assert empty["ObjCount"]["obj_count_present"] == "0" and empty["TotalSize"]["size_all_present_objs"] == "0"
    for name, size in (("p1/a", 10), ("p1/b", 30), ("p2/c", 20)):
        bck.object(name).get_writer().put_content(b"z" * size)

    summ = bck.summary()
    assert summ["name"] == "sdk-summ" and summ["is_present"] is True
    assert summ["ObjCount"] == {"obj_count_present": "3", "obj_count_remote": "0"}
    assert summ["ObjSize"] == {"obj_min_size": 10, "obj_avg_size": 20, "obj_max_size": 30}
    assert summ["TotalSize"]["size_all_present_objs"] == "60" and int(summ["TotalSize"]["total_disks_size"]) > 0
    assert bck.summary(prefix="p1/")["ObjCount"]["obj_count_present"] == "2"

    props, info = bck.info()   # HEAD with a presence filter: props at once, the summary after polling
    assert '"checksum"' in props
    assert info["ObjCount"]["obj_count_present"] == "3"
    assert bck.info(prefix="p2/")[1]["TotalSize"]["size_all_present_objs"] == "20"


def test_cluster_map_and_jobs(server: Server, client: "sdk.Client") -> None:
    cluster = client.cluster()
    assert cluster.is_ready()
    assert cluster.get_primary_url() == server.url
    bck = client.bucket("sdk-jobs")
    bck.create()
    for i in range(5):
        bck.object(f"o{i}").get_writer().put_content(b"d" * i)
    assert bck.object("o3").get_reader(direct=True).read_all() == b"ddd"   # straight to the "target"

    copy = client.job(bck.copy(client.bucket("sdk-jobs-copy")))   # no kind given: the SDK looks it up
    assert copy.wait(timeout=60, verbose=False).success
    assert [s.kind for s in copy.get_details().list_snapshots()] == ["copy-bck"]
    assert copy.job_id in [s.uuid for s in cluster.list_jobs_status(job_kind="copy-bck")]
    target = next(iter(cluster.get_info().tmap))   # the one target, as its cluster map names it
    assert copy.job_id in [s.uuid for s in cluster.list_jobs_status(job_kind="copy-bck", target_id=target)]
    assert cluster.list_jobs_status(target_id="t-elsewhere") == []
    assert cluster.list_running_jobs() == []
    # the cluster's UUID: the same in the cluster map and the BMD, and kept across a restart
    uuid = cluster.get_uuid()
    assert uuid and httpx.get(f"{server.url}/v1/daemon?what=bmd").json()["uuid"] == uuid
    # job snapshots filtered by bucket (AIStore's JobArgs "Bck" / "Buckets"), as source or destination
    def snaps(**args: object) -> list[str]:
        r = httpx.request("GET", f"{server.url}/v1/cluster?what=qryxstats", json={"Kind": "copy-bck", **args})
        return [s["id"] for s in r.json()["aisfs"]]
    assert snaps(Bck={"name": "sdk-jobs-copy", "provider": "ais"}) == [copy.job_id]
    assert snaps(Buckets=[{"name": "other"}, {"name": "sdk-jobs"}]) == [copy.job_id]
    assert snaps(Bck={"name": "other"}) == []
    assert sorted(e.name for e in client.bucket("sdk-jobs-copy").list_all_objects()) == [f"o{i}" for i in range(5)]

    delete = client.job(bck.objects(obj_names=["o1", "o2"]).delete(), "delete-listrange")
    result = delete.wait(timeout=60, verbose=False)
    assert result.success and result.end_time is not None
    assert sorted(e.name for e in bck.list_all_objects()) == ["o0", "o3", "o4"]
    server.restart()
    assert sdk.Client(server.url).cluster().get_uuid() == uuid
