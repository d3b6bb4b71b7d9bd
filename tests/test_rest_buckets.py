"""Buckets over /v1: naming rules, create/destroy/rename/copy/list/head, props, access, persistence."""
from __future__ import annotations

import hashlib
import itertools
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import httpx
import pytest

from restkit import act, assert_error, bucket_props, create_bucket, list_all, names, ourl, set_props, wait_job
from support import Server

SERIAL = itertools.count()
BAD_NAMES = [("x" * 65, "64"), ("a..b", ".."), (".hidden", "start with"), ("v1", "reserved"), ("s3", "reserved"), ("has space", "letters"),
             ("caf\u00e9", "letters"), ("a*b", "letters"), ("a%b", "letters")]


@pytest.fixture(scope="module")
def c(shared_server: Server) -> Iterator[httpx.Client]:
    """One client on the module's server (its tests use distinct bucket names)."""
    with shared_server.client() as client:
        yield client


def okey_bucket(name: str) -> str:
    """A bucket name as it goes into a URL, so the server sees exactly `name`."""
    return quote(name, safe="")


@pytest.mark.parametrize("name,word", BAD_NAMES)
def test_bad_bucket_names_are_refused_with_a_clear_message(c: httpx.Client, name: str, word: str) -> None:
    """Every naming rule answers 400 with a message that says which rule."""
    r = act(c, "POST", f"/v1/buckets/{okey_bucket(name)}", "create-bck")
    assert_error(r, 400, word)
    assert name not in names(c.get("/v1/buckets").json())


def test_longest_legal_name_and_all_legal_characters(c: httpx.Client) -> None:
    """64 bytes of [A-Za-z0-9._-] is accepted."""
    name = ("Az09._-" * 10)[:64]
    create_bucket(c, name)
    assert bucket_props(c, name)["provider"] == "ais"
    assert c.delete(f"/v1/buckets/{name}").status_code == 200


def test_create_head_list_destroy(c: httpx.Client) -> None:
    """The bucket lifecycle a user goes through, with 404/409 where they belong."""
    props = create_bucket(c, "life")
    assert props["bid"] and props["created"]
    assert_error(act(c, "POST", "/v1/buckets/life", "create-bck"), 409, "already exists")
    listed = {b["name"]: b for b in c.get("/v1/buckets").json()}
    assert listed["life"]["provider"] == "ais" and listed["life"]["namespace"] == {"uuid": "", "name": ""}
    assert listed["life"]["bid"] == props["bid"]
    assert bucket_props(c, "life")["bid"] == props["bid"]
    assert c.put(ourl("life", "o"), content=b"abc").status_code == 200
    assert act(c, "GET", "/v1/buckets/life", "summary").json() == {
        "name": "life", "provider": "ais", "objects": 1, "size": 3}
    assert act(c, "DELETE", "/v1/buckets/life", "destroy-bck").status_code == 200
    assert c.head("/v1/buckets/life").status_code == 404
    assert_error(c.get(ourl("life", "o")), 404, "life")
    assert "life" not in names(c.get("/v1/buckets").json())
    assert_error(act(c, "DELETE", "/v1/buckets/life", "destroy-bck"), 404)


def test_inherited_defaults(c: httpx.Client) -> None:
    """A new bucket inherits the cluster's checksum, versioning, mirror/ec and LRU settings."""
    p = create_bucket(c, "defaults")
    assert p["checksum"]["type"] == "xxhash"
    assert p["versioning"]["enabled"] is True
    assert p["mirror"]["enabled"] is False and p["ec"]["enabled"] is False
    assert p["lru"]["dont_evict_time"] == "2h"
    assert bucket_props(c, "defaults") == p


def test_create_with_nested_and_dotted_props(c: httpx.Client) -> None:
    """Props at creation may be nested JSON or dotted keys."""
    p = create_bucket(c, "nested", {"checksum": {"type": "md5"}, "versioning": {"enabled": False}})
    assert p["checksum"]["type"] == "md5" and p["versioning"]["enabled"] is False
    p = create_bucket(c, "dotted", {"checksum.type": "sha256", "lru.dont_evict_time": "3h"})
    assert p["checksum"]["type"] == "sha256" and p["lru"]["dont_evict_time"] == "3h"
    assert bucket_props(c, "dotted")["checksum"]["type"] == "sha256"
    assert_error(act(c, "POST", "/v1/buckets/badprops", "create-bck", {"checksum.type": "rot13"}), 400, "checksum")
    assert c.head("/v1/buckets/badprops").status_code == 404


def test_set_and_reset_props(c: httpx.Client) -> None:
    """Dotted or JSON updates apply; reset goes back to the cluster defaults but keeps identity."""
    p0 = create_bucket(c, "setprops")
    r = set_props(c, "setprops", {"checksum.type": "sha512", "versioning.enabled": "false"})
    assert r.status_code == 200, r.text
    assert r.json()["checksum"]["type"] == "sha512"
    r = set_props(c, "setprops", {"lru": {"dont_evict_time": "90m"}})
    assert r.status_code == 200, r.text
    p = bucket_props(c, "setprops")
    assert (p["checksum"]["type"], p["versioning"]["enabled"], p["lru"]["dont_evict_time"]) == ("sha512", False, "90m")
    assert set_props(c, "setprops", {"access": "ro"}).status_code == 200
    r = act(c, "PATCH", "/v1/buckets/setprops", "reset-bprops")
    assert r.status_code == 200, r.text
    p = bucket_props(c, "setprops")
    assert (p["checksum"]["type"], p["versioning"]["enabled"], p["lru"]["dont_evict_time"]) == ("xxhash", True, "2h")
    assert (p["bid"], p["created"]) == (p0["bid"], p0["created"])
    assert c.put(ourl("setprops", "writable-again"), content=b"w").status_code == 200


@pytest.mark.parametrize("update,word", [({"created": "1"}, "read-only"), ({"bid": "x"}, "read-only"),
                                         ({"checksum.type": "rot13"}, "checksum"), ({"nope.x": 1}, "unknown"),
                                         ({"access": "sometimes"}, "access"), ({"versioning.enabled": "maybe"}, "boolean")])
def test_invalid_props_refused_and_unchanged(c: httpx.Client, update: dict, word: str) -> None:
    """Read-only, unknown or invalid props answer 400 and change nothing."""
    name = f"badset-{next(SERIAL)}"
    create_bucket(c, name)
    before = bucket_props(c, name)
    assert_error(set_props(c, name, update), 400, word)
    assert bucket_props(c, name) == before


def test_read_only_access(c: httpx.Client) -> None:
    """access=ro rejects PUT and DELETE with 403 but still serves GET, HEAD and listing; rw restores."""
    create_bucket(c, "robck")
    assert c.put(ourl("robck", "keep"), content=b"data").status_code == 200
    assert set_props(c, "robck", {"access": "ro"}).status_code == 200
    assert_error(c.put(ourl("robck", "keep"), content=b"other"), 403)
    assert_error(c.put(ourl("robck", "new"), content=b"new"), 403)
    assert_error(c.delete(ourl("robck", "keep")), 403)
    assert c.get(ourl("robck", "keep")).content == b"data"
    assert c.head(ourl("robck", "keep")).status_code == 200
    assert names(list_all(c, "robck")) == ["keep"]
    assert set_props(c, "robck", {"access": "rw"}).status_code == 200
    assert c.put(ourl("robck", "new"), content=b"new").status_code == 200
    assert c.delete(ourl("robck", "keep")).status_code == 200


def test_rename_bucket(c: httpx.Client) -> None:
    """move-bck returns a job id; objects are readable under the new name only."""
    create_bucket(c, "mvsrc", {"checksum.type": "md5"})
    blobs = {f"k{i}/x": hashlib.sha256(str(i).encode()).digest() * (i + 1) for i in range(20)}
    for k, v in blobs.items():
        assert c.put(ourl("mvsrc", k), content=v).status_code == 200
    r = act(c, "POST", "/v1/buckets/mvsrc", "move-bck", params={"bck_to": "mvdst"})
    assert r.status_code == 200, r.text
    job = wait_job(c, r.text.strip())
    assert job["kind"] == "move-bck" and job["end_time"] > 0 and not job["errors"]
    assert c.head("/v1/buckets/mvsrc").status_code == 404
    assert bucket_props(c, "mvdst")["checksum"]["type"] == "md5"
    for k, v in blobs.items():
        assert c.get(ourl("mvdst", k)).content == v
    assert sorted(blobs) == names(list_all(c, "mvdst"))
    create_bucket(c, "mvother")
    r = act(c, "POST", "/v1/buckets/mvdst", "move-bck", params={"bck_to": "mvother"})
    assert_error(r, 409, "exists")
    assert_error(act(c, "POST", "/v1/buckets/mvdst", "move-bck", params={"bck_to": "v1"}), 400, "reserved")
    assert_error(act(c, "POST", "/v1/buckets/mvnone", "move-bck", params={"bck_to": "x2"}), 404)
    # the destination as AIStore's SDK names it: a bucket's unified name
    r = act(c, "POST", "/v1/buckets/mvdst", "move-bck", params={"bck_to": "ais/@#/mvuname/"})
    assert r.status_code == 200, r.text
    wait_job(c, r.text.strip())
    assert sorted(blobs) == names(list_all(c, "mvuname"))


def test_copy_bucket_whole_and_with_prefix(c: httpx.Client) -> None:
    """copy-bck copies every object (or those under a prefix), bytes and metadata equal; the source stays."""
    create_bucket(c, "cpsrc", {"checksum.type": "sha256"})
    blobs = {("a/" if i % 2 else "b/") + f"o{i}": bytes([i]) * (1000 * i + 1) for i in range(30)}
    for k, v in blobs.items():
        assert c.put(ourl("cpsrc", k), content=v, headers={"Ais-Custom-Md": f"n={k}"}).status_code == 200
    r = act(c, "POST", "/v1/buckets/cpsrc", "copy-bck", {"prefix": "", "dry_run": False}, params={"bck_to": "cpall"})
    assert r.status_code == 200, r.text
    job = wait_job(c, r.text.strip())
    assert (job["kind"], job["bucket"], job["dst_bucket"]) == ("copy-bck", "cpsrc", "cpall")
    assert job["objs"] == 30 and job["bytes"] == sum(map(len, blobs.values())) and not job["errors"]
    assert bucket_props(c, "cpall")["checksum"]["type"] == "sha256"
    for k, v in blobs.items():
        g = c.get(ourl("cpall", k))
        assert g.content == v
        assert g.headers["ais-checksum-value"] == hashlib.sha256(v).hexdigest()
        assert g.headers["ais-custom-md"] == f"n={k}"
    assert names(list_all(c, "cpsrc")) == sorted(blobs)

    r = act(c, "POST", "/v1/buckets/cpsrc", "copy-bck", {"prefix": "a/"}, params={"bck_to": "cppfx"})
    job = wait_job(c, r.text.strip())
    want = sorted(k for k in blobs if k.startswith("a/"))
    assert names(list_all(c, "cppfx")) == want and job["objs"] == len(want)
    for k in want:
        assert c.get(ourl("cppfx", k)).content == blobs[k]
    assert_error(act(c, "POST", "/v1/buckets/cpsrc", "copy-bck", params={"bck_to": "cpsrc"}), 400, "same")
    # JSON null is "not given" (what a Python client sends for None), never the prefix "None"
    job = wait_job(c, act(c, "POST", "/v1/buckets/cpsrc", "copy-bck", {"prefix": None},
                          params={"bck_to": "cpnull"}).text)
    assert job["objs"] == 30 and names(list_all(c, "cpnull", prefix=None, start_after=None)) == sorted(blobs)


def test_bucket_props_survive_restart(tmp_path: Path) -> None:
    """Props, access and objects are still there after a restart (BMD is persisted)."""
    srv = Server(tmp_path / "data").start()
    try:
        with srv.client() as c:
            create_bucket(c, "persist", {"checksum.type": "crc32c"})
            assert set_props(c, "persist", {"versioning.enabled": False, "lru.dont_evict_time": "5h"}).status_code == 200
            assert c.put(ourl("persist", "obj"), content=b"kept").status_code == 200
            assert set_props(c, "persist", {"access": "ro"}).status_code == 200
            before = bucket_props(c, "persist")
            create_bucket(c, "renamed-from")
            assert c.put(ourl("renamed-from", "r"), content=b"moved").status_code == 200
            wait_job(c, act(c, "POST", "/v1/buckets/renamed-from", "move-bck", params={"bck_to": "renamed-to"}).text)
            time.sleep(0.01)
            assert c.get(ourl("persist", "obj")).content == b"kept"
            atime = int(c.head(ourl("persist", "obj")).headers["ais-atime"])
        srv.restart()
        with srv.client() as c:
            assert int(c.head(ourl("persist", "obj")).headers["ais-atime"]) == atime  # written back on stop
            assert c.get(ourl("renamed-to", "r")).content == b"moved"
            assert c.head("/v1/buckets/renamed-from").status_code == 404
            after = bucket_props(c, "persist")
            assert after == before
            assert (after["checksum"]["type"], after["versioning"]["enabled"]) == ("crc32c", False)
            assert after["lru"]["dont_evict_time"] == "5h"
            assert c.get(ourl("persist", "obj")).content == b"kept"
            assert_error(c.put(ourl("persist", "obj"), content=b"x"), 403)
    finally:
        srv.stop()
