"""The two metadata-level /v1 calls the remote mount needs: `rename-prefix` (a directory move in one
transaction) and PATCH of an object's custom metadata (no data rewrite), over raw HTTP and the client."""
from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from aisfs.client import Client
from engine import errors
from restkit import act, assert_error, create_bucket, list_all, names, ourl
from support import Server


@pytest.fixture(scope="module")
def c(shared_server: Server) -> Iterator[httpx.Client]:
    with shared_server.client() as client:
        yield client


def rename_prefix(c: httpx.Client, bucket: str, src: str, dst: str) -> httpx.Response:
    return act(c, "POST", f"/v1/buckets/{bucket}", "rename-prefix", {"to": dst}, name=src)


def test_rename_prefix_moves_everything_under_it_keeping_metadata(c: httpx.Client) -> None:
    create_bucket(c, "mvp")
    for key in ("d/", "d/a", "d/sub/b", "d/sub/ü c%", "dx", "e"):
        assert c.put(ourl("mvp", key), content=key.encode(), headers={"Ais-Custom-Md": "k=v"}).status_code == 200
    before = c.head(ourl("mvp", "d/sub/b")).headers
    r = rename_prefix(c, "mvp", "d/", "n/e w/")
    assert r.status_code == 200 and r.json() == {"objs": 4}, r.text
    assert names(list_all(c, "mvp")) == ["dx", "e", "n/e w/", "n/e w/a", "n/e w/sub/b", "n/e w/sub/ü c%"]
    moved = c.get(ourl("mvp", "n/e w/sub/b"))
    assert moved.content == b"d/sub/b"
    for h in ("ais-version", "ais-checksum-value", "ais-custom-md", "etag"):
        assert moved.headers[h] == before[h], h
    assert c.head(ourl("mvp", "d/sub/b")).status_code == 404


def test_rename_prefix_errors(c: httpx.Client, shared_server: Server) -> None:
    create_bucket(c, "mvperr")
    for key in ("src/a", "src/b/" + "x" * 900, "dst/taken", "lone"):
        assert c.put(ourl("mvperr", key), content=b"1").status_code == 200
    listing = names(list_all(c, "mvperr"))
    assert_error(rename_prefix(c, "mvperr", "src/", "dst/"), 409, "not empty")
    assert_error(rename_prefix(c, "mvperr", "src/", "src/in/"), 400, "cannot move")
    assert_error(rename_prefix(c, "mvperr", "src/in/", "src/"), 400, "cannot move")
    doc = assert_error(rename_prefix(c, "mvperr", "src/", "long/" + "y" * 200 + "/"), 400, "1024")
    assert doc["code"] == "KeyTooLongError"
    assert_error(rename_prefix(c, "mvperr", "nothing/", "new/"), 404, "no objects")
    assert_error(rename_prefix(c, "no-such-bucket", "src/", "new/"), 404, "bucket")
    assert_error(act(c, "POST", "/v1/buckets/mvperr", "rename-prefix", name="src/"), 400, "rename-prefix needs")
    assert_error(act(c, "POST", "/v1/buckets/mvperr", "rename-prefix", {"to": 3}, name="src/"), 400)
    assert names(list_all(c, "mvperr")) == listing  # every refusal left the bucket as it was
    with Client(shared_server.url) as cl:  # the client raises the engine's own exceptions
        with pytest.raises(errors.Conflict):
            cl.rename_prefix("mvperr", "src/", "dst/")
        with pytest.raises(errors.KeyTooLong):
            cl.rename_prefix("mvperr", "src/", "long/" + "y" * 200 + "/")
        with pytest.raises(errors.ObjectNotFound):
            cl.rename_prefix("mvperr", "nothing/", "new/")
        with pytest.raises(errors.BucketNotFound):
            cl.rename_prefix("no-such-bucket", "src/", "new/")
        assert cl.rename_prefix("mvperr", "src/", "moved/") == 2
    assert names(list_all(c, "mvperr")) == ["dst/taken", "lone", "moved/a", "moved/b/" + "x" * 900]


def test_patch_custom_metadata_rewrites_no_data(c: httpx.Client, shared_server: Server) -> None:
    create_bucket(c, "patchmd")
    data = b"z" * (3 << 20)
    put = c.put(ourl("patchmd", "obj"), content=data, headers={"Ais-Custom-Md": "a=1,b=2", "Content-Type": "x/y"})
    assert put.status_code == 200

    def md() -> dict[str, str]:
        h = c.head(ourl("patchmd", "obj")).headers
        return dict(p.split("=", 1) for p in h["ais-custom-md"].split(","))

    r = c.request("PATCH", ourl("patchmd", "obj"), json={"value": {"b": "3", "mode": "0600"}})  # AIStore's shape
    assert r.status_code == 200, r.text
    assert md() == {"a": "1", "b": "3", "mode": "0600"}  # merged
    r = c.request("PATCH", ourl("patchmd", "obj"), params={"set-new-custom": "true"},
                  json={"action": "set-custom", "value": {"only": "this"}})
    assert r.status_code == 200 and md() == {"only": "this"}  # replaced
    after = c.get(ourl("patchmd", "obj"))
    assert after.content == data and after.headers["content-type"] == "x/y"
    for h in ("ais-version", "ais-checksum-value", "etag"):
        assert after.headers[h] == put.headers[h], h
    with Client(shared_server.url) as cl:
        cl.set_custom("patchmd", "obj", {"ü": "ünïcode"}, replace=True)
        info = cl.head_object("patchmd", "obj")
        assert info.custom == {"ü": "ünïcode"} and info.version == put.headers["ais-version"]
        with pytest.raises(errors.ObjectNotFound):
            cl.set_custom("patchmd", "missing", {"a": "1"})
        with pytest.raises(errors.BucketNotFound):
            cl.set_custom("no-such-bucket", "obj", {"a": "1"})
    odd = {"tags": "x,y", "a=b": "1=2", " pad": " 50% ", "nl": "two\nlines"}  # what k=v,k2=v2 cannot carry raw
    r = c.request("PATCH", ourl("patchmd", "obj"), params={"set-new-custom": "true"}, json={"value": odd})
    assert r.status_code == 200, r.text
    raw = c.head(ourl("patchmd", "obj")).headers["ais-custom-md"]
    assert "tags=x%2Cy" in raw and "a%3Db=1%3D2" in raw and "\n" not in raw  # percent-encoded on the wire
    with Client(shared_server.url) as cl:
        assert cl.head_object("patchmd", "obj").custom == odd  # and decoded by a client
        cl.set_custom("patchmd", "obj", {"ü": "ünïcode"}, replace=True)
    for bad in ({"a": 1}, {"": "1"}, ["a"]):
        assert_error(c.request("PATCH", ourl("patchmd", "obj"), json={"value": bad}), 400)
    assert_error(c.request("PATCH", ourl("patchmd", "obj"), json={"action": "rename-obj", "value": {}}), 400,
                 "unknown action")
    assert md() == {"ü": "ünïcode"}
