"""Listing 10,000 objects over /v1: paging without duplicates or gaps, prefix, start_after, props, limits."""
from __future__ import annotations

from typing import Iterator

import httpx
import msgpack
import pytest

from restkit import act, assert_error, create_bucket, fill, list_all, list_page, names
from support import Server

N = 10_000
BUCKET = "tenk"
KEYS = sorted(f"d{i % 10}/obj-{i:05d}" for i in range(N))


@pytest.fixture(scope="module")
def c(shared_server: Server) -> Iterator[httpx.Client]:
    """A bucket of 10,000 small objects, PUT over pipelined connections to keep this quick."""
    with shared_server.client() as client:
        create_bucket(client, BUCKET)
        fill(shared_server.port, BUCKET, KEYS, lambda k: k.encode())
        yield client


@pytest.mark.parametrize("pagesize", [1000, 777, 10_000])
def test_pages_cover_everything_once(c: httpx.Client, pagesize: int) -> None:
    """Page by page with continuation tokens: every key exactly once, in order, full pages but the last."""
    got: list[str] = []
    token, pages = "", 0
    while True:
        page = list_page(c, BUCKET, pagesize=pagesize, continuation_token=token, props="name,size")
        pages += 1
        got += names(page["entries"])
        token = page["continuation_token"]
        if not token:
            break
        assert len(page["entries"]) == pagesize
    assert got == KEYS
    assert pages in (-(-N // pagesize), -(-N // pagesize) + 1)


def test_default_page_is_the_maximum(c: httpx.Client) -> None:
    """Without pagesize a page holds 10,000 entries, then the listing ends."""
    page = list_page(c, BUCKET)
    assert len(page["entries"]) == N and names(page["entries"]) == KEYS
    if page["continuation_token"]:  # a full last page may carry a token; the page after it is empty and final
        nxt = list_page(c, BUCKET, continuation_token=page["continuation_token"])
        assert nxt == {**nxt, "entries": [], "continuation_token": ""}


def test_prefix_and_start_after(c: httpx.Client) -> None:
    """prefix narrows to one "directory"; start_after resumes strictly after a name, with or without prefix."""
    d3 = [k for k in KEYS if k.startswith("d3/")]
    assert names(list_all(c, BUCKET, prefix="d3/", pagesize=333)) == d3 and len(d3) == 1000
    assert names(list_all(c, BUCKET, prefix="d3/obj-0000")) == [k for k in d3 if k.startswith("d3/obj-0000")]
    assert list_all(c, BUCKET, prefix="nothing-here/") == []
    mid = KEYS[4321]
    assert names(list_all(c, BUCKET, start_after=mid, pagesize=1000)) == KEYS[4322:]
    assert names(list_all(c, BUCKET, prefix="d3/", start_after=d3[500])) == d3[501:]
    assert names(list_all(c, BUCKET, prefix="d3/", start_after="a")) == d3
    assert list_all(c, BUCKET, prefix="d3/", start_after="d4") == []
    assert names(list_all(c, BUCKET, start_after="d3/obj-99999")) == [k for k in KEYS if k >= "d4"]


def test_props_selection(c: httpx.Client) -> None:
    """Entries carry what `props` asks for, and only that; unknown props are a 400."""
    e = list_page(c, BUCKET, prefix="d1/", pagesize=5, props="name,size")["entries"]
    assert len(e) == 5 and all(set(x) == {"name", "size", "flags"} for x in e)
    assert all(x["size"] == len(x["name"].encode()) for x in e)
    e = list_page(c, BUCKET, prefix="d1/", pagesize=5, props="name")["entries"]
    assert all(set(x) <= {"name", "flags"} for x in e)
    e = list_page(c, BUCKET, prefix="d1/", pagesize=5, flags="16")["entries"]
    assert all(set(x) <= {"name", "flags"} for x in e) and len(e) == 5
    e = list_page(c, BUCKET, prefix="d1/", pagesize=5, props="name,size,version,checksum,atime,custom")["entries"]
    for x in e:
        assert {"name", "size", "version", "checksum", "atime", "custom-md"} <= set(x)
        assert x["version"] == "1" and len(x["checksum"]) == 16 and x["atime"].endswith("Z")
    assert_error(act(c, "GET", f"/v1/buckets/{BUCKET}", "list", {"props": "name,colour"}), 400, "colour")


def test_msgpack_pages_as_aistores_sdk_reads_them(c: httpx.Client) -> None:
    """`Accept: application/msgpack` (AIStore's Python SDK) gets LsoRes/LsoEntry in MessagePack with
    AIStore's member names; every page carries a listing UUID, the one given or a new one (the SDK takes an
    empty UUID for "not started" and would list again from the start)."""
    def page(**value: object) -> dict:
        r = c.request("GET", f"/v1/buckets/{BUCKET}", headers={"accept": "application/msgpack"},
                      json={"action": "list", "value": value})
        assert r.status_code == 200 and r.headers["content-type"] == "application/msgpack", r.text
        return msgpack.unpackb(r.content)
    first = page(prefix="d2/", pagesize=400, props="name,size,version,checksum,atime,location,copies")
    assert set(first) == {"UUID", "ContinuationToken", "Flags", "Entries"} and first["UUID"]
    want = [k for k in KEYS if k.startswith("d2/")]
    got = [e["n"] for e in first["Entries"]]
    token, uuid = first["ContinuationToken"], first["UUID"]
    e = first["Entries"][0]
    assert e["s"] == len(e["n"]) and e["v"] == "1" and len(e["cs"]) == 16 and e["a"].endswith("Z")
    assert e["c"] == 1 and e["t"] and e["f"] == 64
    while token:
        nxt = page(prefix="d2/", pagesize=400, props="name", uuid=uuid, continuation_token=token)
        assert nxt["UUID"] == uuid and all(set(x) == {"n", "f"} for x in nxt["Entries"])
        got += [x["n"] for x in nxt["Entries"]]
        token = nxt["ContinuationToken"]
    assert got == want
    dirs = page(pagesize=20, flags=str(1 << 11))["Entries"]   # LsNoRecursion: the virtual directories
    assert [(x["n"], x["f"]) for x in dirs] == [(f"d{i}/", 256) for i in range(10)]
    assert list_page(c, BUCKET, prefix="d2/", pagesize=1)["uuid"]   # the JSON page has one too


@pytest.mark.parametrize("pagesize", [10_001, 1_000_000, -1, "many"])
def test_bad_pagesize_is_400(c: httpx.Client, pagesize: object) -> None:
    """pagesize beyond 10,000 (or not a positive number) is the caller's error."""
    assert_error(act(c, "GET", f"/v1/buckets/{BUCKET}", "list", {"pagesize": pagesize}), 400)


def test_listing_missing_bucket_is_404(c: httpx.Client) -> None:
    """Listing a bucket that does not exist is 404 with JSON."""
    assert_error(act(c, "GET", "/v1/buckets/no-such-bucket", "list", {}), 404, "no-such-bucket")
