"""S3 versions through /v1: the same history, ids and bytes the S3 face shows."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from restkit import act, create_bucket, ourl, set_props
from s3kit import client, keyed_server
from support import Server


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    s = keyed_server(tmp_path / "data")
    try:
        yield s
    finally:
        s.stop()


def test_versions_are_shared_by_rest_and_s3(srv: Server) -> None:
    s3 = client(srv.url)
    with srv.client() as c:
        create_bucket(c, "hist")
        assert set_props(c, "hist", {"versioning": {"s3": "Enabled"}}).status_code == 200
        first = c.put(ourl("hist", "doc"), content=b"one")
        second = c.put(ourl("hist", "doc"), content=b"two, longer")
        v1, v2 = first.headers["ais-version-id"], second.headers["ais-version-id"]
        assert v1 != v2
        assert c.head(ourl("hist", "doc")).headers["ais-version-id"] == v2

        # S3 lists the same two versions, newest first, and reads the old bytes by the same id
        listed = s3.list_object_versions(Bucket="hist")["Versions"]
        assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [(v2, True), (v1, False)]
        assert s3.get_object(Bucket="hist", Key="doc", VersionId=v1)["Body"].read() == b"one"
        assert c.get(ourl("hist", "doc"), params={"version_id": v1}).content == b"one"
        assert c.get(ourl("hist", "doc"), params={"version_id": v2}).content == b"two, longer"

        page = act(c, "GET", "/v1/buckets/hist", "list-versions").json()
        assert [(e["name"], e["version_id"], e["is_latest"], e["delete_marker"]) for e in page["entries"]] == [
            ("doc", v2, True, False), ("doc", v1, False, False)]
        assert page["entries"][1]["size"] == 3 and not page["truncated"]

        # a REST DELETE adds a delete marker, as an S3 DELETE would; deleting the marker by id brings v2 back
        gone = c.delete(ourl("hist", "doc"))
        marker = gone.headers["ais-version-id"]
        assert c.get(ourl("hist", "doc")).status_code == 404
        assert s3.list_object_versions(Bucket="hist")["DeleteMarkers"][0]["VersionId"] == marker
        assert c.delete(ourl("hist", "doc"), params={"version_id": marker}).status_code == 200
        assert c.get(ourl("hist", "doc")).content == b"two, longer"

        # an unknown version id is a 404 with a clear message
        r = c.get(ourl("hist", "doc"), params={"version_id": "nope"})
        assert r.status_code == 404 and "version" in r.json()["message"].lower()


def test_unversioned_bucket_has_no_version_ids(srv: Server) -> None:
    with srv.client() as c:
        create_bucket(c, "plain")
        r = c.put(ourl("plain", "k"), content=b"x")
        assert "ais-version-id" not in r.headers
        assert c.delete(ourl("plain", "k")).status_code == 200
        assert c.delete(ourl("plain", "k")).status_code == 404
