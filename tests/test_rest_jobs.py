"""Multi-object jobs over /v1: delete-listrange by names and templates, job listing, progress, wait, abort."""
from __future__ import annotations

import itertools
import time
from typing import Iterator

import httpx
import pytest

from restkit import act, assert_error, create_bucket, fill, list_all, names, ourl, wait_job
from support import Server


SERIAL = itertools.count()


@pytest.fixture(scope="module")
def c(shared_server: Server) -> Iterator[httpx.Client]:
    """One client on the module's server (its tests use distinct bucket names)."""
    with shared_server.client() as client:
        yield client


def delete_listrange(c: httpx.Client, bucket: str, value: dict) -> str:
    """Start delete-listrange; returns the job id the server answers with."""
    r = act(c, "DELETE", f"/v1/buckets/{bucket}", "delete-listrange", value)
    assert r.status_code == 200, r.text
    job_id = r.text.strip()
    assert job_id and " " not in job_id
    return job_id


def test_delete_by_names(shared_server: Server, c: httpx.Client) -> None:
    """objnames deletes exactly those; a missing name is counted as an error, the rest still go."""
    create_bucket(c, "jnames")
    keys = [f"k{i}" for i in range(10)]
    fill(shared_server.port, "jnames", keys, lambda k: k.encode() * 10, conns=1)
    job_id = delete_listrange(c, "jnames", {"objnames": ["k1", "k3", "absent", "k5"]})
    job = wait_job(c, job_id)
    assert (job["kind"], job["bucket"]) == ("delete-listrange", "jnames")
    assert job["objs"] == 3 and job["bytes"] == 3 * 20 and job["total"] == 4
    assert job["err_count"] == 1 and "absent" in job["errors"][0]
    assert job["end_time"] >= job["start_time"] > 0 and not job["aborted"]
    assert names(list_all(c, "jnames")) == [k for k in keys if k not in ("k1", "k3", "k5")]
    listed = c.get("/v1/jobs", params={"kind": "delete-listrange", "bucket": "jnames"}).json()
    assert [j["id"] for j in listed] == [job_id]
    assert c.get(f"/v1/jobs/{job_id}").json()["objs"] == 3


def test_delete_by_range_template(shared_server: Server, c: httpx.Client) -> None:
    """`shard-{0000..0099..2}.tar` deletes only the even shards."""
    create_bucket(c, "jtmpl")
    keys = [f"shard-{i:04d}.tar" for i in range(100)] + ["shard-0100.tar", "other"]
    fill(shared_server.port, "jtmpl", keys, lambda k: b"t", conns=2)
    job = wait_job(c, delete_listrange(c, "jtmpl", {"template": "shard-{0000..0099..2}.tar"}))
    assert job["objs"] == 50 and job["total"] == 50 and job["err_count"] == 0
    assert names(list_all(c, "jtmpl")) == sorted([f"shard-{i:04d}.tar" for i in range(1, 100, 2)]
                                                 + ["shard-0100.tar", "other"])


def test_delete_by_prefix_and_everything(shared_server: Server, c: httpx.Client) -> None:
    """A bare prefix template deletes that "directory"; "" deletes every object."""
    create_bucket(c, "jpfx")
    keys = [f"logs/{i}" for i in range(30)] + ["logs", "logsX/1", "keep/1", "keep/2"]
    fill(shared_server.port, "jpfx", keys, lambda k: b"p", conns=2)
    job = wait_job(c, delete_listrange(c, "jpfx", {"template": "logs/"}))
    assert job["objs"] == 30
    assert names(list_all(c, "jpfx")) == ["keep/1", "keep/2", "logs", "logsX/1"]
    job = wait_job(c, delete_listrange(c, "jpfx", {"template": ""}))
    assert job["objs"] == 4 and list_all(c, "jpfx") == []
    assert c.head("/v1/buckets/jpfx").status_code == 200


@pytest.mark.parametrize("value,word", [({"template": "shard-{9..1}"}, "range"), ({"template": "s-{0..9"}, "template"),
                                        ({"template": "s-{0..9..0}"}, "range"), ({"objnames": "k1"}, "objnames"),
                                        ({"objnames": [1, 2]}, "objnames")])
def test_bad_templates_are_400(c: httpx.Client, value: dict, word: str) -> None:
    """A malformed template or name list is refused up front, deleting nothing."""
    b = f"jbad{next(SERIAL)}"
    create_bucket(c, b)
    c.put(ourl(b, "s-1"), content=b"x")
    assert_error(act(c, "DELETE", f"/v1/buckets/{b}", "delete-listrange", value), 400, word)
    assert names(list_all(c, b)) == ["s-1"]


def test_unknown_job_is_404(c: httpx.Client) -> None:
    """Asking for, waiting on or aborting a job that does not exist is 404 JSON."""
    assert_error(c.get("/v1/jobs/nosuchjob"), 404, "nosuchjob")
    assert_error(c.get("/v1/jobs/nosuchjob", params={"wait": "1"}), 404)
    assert_error(c.delete("/v1/jobs/nosuchjob"), 404)
    assert_error(c.get("/v1/jobs/x", params={"wait": "soon"}), 400, "wait")


def test_bad_wait_is_400(c: httpx.Client) -> None:
    """A negative or NaN ?wait= is the caller's error, not a 500."""
    create_bucket(c, "jwait")
    job_id = delete_listrange(c, "jwait", {"template": "none-{0..3}"})
    for w in ("-1", "nan", "-inf", "soon"):
        assert_error(c.get(f"/v1/jobs/{job_id}", params={"wait": w}), 400, "wait")
    assert wait_job(c, job_id)["objs"] == 0
    assert c.get(f"/v1/jobs/{job_id}", params={"wait": "inf"}).status_code == 200


def test_abort_running_copy(shared_server: Server, c: httpx.Client) -> None:
    """A long copy-bck shows up as running with growing counters, aborts on DELETE, and leaves only whole copies."""
    create_bucket(c, "jbig")
    keys = [f"o{i:04d}" for i in range(1000)]
    fill(shared_server.port, "jbig", keys, lambda k: k.encode() * 20000, conns=4)
    r = act(c, "POST", "/v1/buckets/jbig", "copy-bck", {"prefix": ""}, params={"bck_to": "jbigcopy"})
    assert r.status_code == 200, r.text
    job_id = r.text.strip()
    deadline = time.monotonic() + 10
    while (job := c.get(f"/v1/jobs/{job_id}").json())["objs"] == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert job["running"] and 0 < job["objs"] < 1000, job
    assert job_id in [j["id"] for j in c.get("/v1/jobs", params={"running": "true"}).json()]
    r = c.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["id"] == job_id
    job = wait_job(c, job_id, timeout=10)
    assert job["aborted"] and job["end_time"] > 0 and job["objs"] < 1000
    assert job_id not in [j["id"] for j in c.get("/v1/jobs", params={"running": "true"}).json()]
    copied = names(list_all(c, "jbigcopy"))
    assert len(copied) in (job["objs"], job["objs"] + 1) and len(copied) < 1000
    for k in copied[:50] + copied[-5:]:
        assert c.get(ourl("jbigcopy", k)).content == k.encode() * 20000
    assert names(list_all(c, "jbig")) == keys
    again = c.delete(f"/v1/jobs/{job_id}")  # aborting a finished job is harmless
    assert again.status_code == 200 and again.json()["aborted"]
