"""The REST client library (aisfs.client) against a real server: sync, and async under trio."""
from __future__ import annotations

import contextlib
import hashlib
import io
import secrets
from pathlib import Path
from typing import AsyncIterator, Iterator

import httpx
import pytest

from aisfs import uri
from aisfs.client import AsyncClient, Client, EndpointUnreachable, aiter_file, error_class
from engine import errors
from support import Server


@pytest.fixture
def api(shared_server: Server) -> Iterator[Client]:
    with Client(shared_server.url) as cl:
        yield cl


@pytest.fixture
def bucket(api: Client) -> Iterator[str]:
    name = f"cl-{secrets.token_hex(4)}"
    api.create_bucket(name)
    try:
        yield name
    finally:
        with contextlib.suppress(errors.BucketNotFound):
            api.destroy_bucket(name)


def test_uri_parsing_and_key_encoding() -> None:
    assert uri.parse("ais://b/a/b c") == uri.Uri("b", "a/b c")
    assert uri.parse("b/k/") == uri.Uri("b", "k/")
    assert uri.parse("ais://", allow_empty=True) == uri.Uri()
    assert str(uri.Uri("b", "k")) == "ais://b/k" and str(uri.Uri("b")) == "ais://b"
    with pytest.raises(errors.BadRequest, match="only ais://"):
        uri.parse("gs://b/k")
    with pytest.raises(errors.InvalidBucketName):
        uri.parse("ais://a..b")
    assert uri.quote_key("a/./../b c+%?#/ü/") == "a/%2E/%2E%2E/b%20c%2B%25%3F%23/%C3%BC/"


def test_error_mapping_by_status_and_message() -> None:
    assert error_class(404, 'bucket "ais://x" does not exist') is errors.BucketNotFound
    assert error_class(404, 'object "ais://x/bucket" does not exist') is errors.ObjectNotFound
    assert error_class(404, "", "job") is errors.JobNotFound
    assert error_class(409, 'bucket "ais://x" already exists') is errors.BucketAlreadyExists
    assert error_class(400, "md5 checksum mismatch: computed a, client sent b") is errors.BadDigest
    assert error_class(507, "out of space") is errors.OutOfSpace
    assert error_class(404, "whatever", code="NoSuchKey") is errors.ObjectNotFound  # a server `code` wins
    assert error_class(502, "bad gateway") is errors.AisError


def test_sync_client_maps_server_errors(api: Client, bucket: str) -> None:
    with pytest.raises(errors.BucketAlreadyExists, match="already exists"):
        api.create_bucket(bucket)
    with pytest.raises(errors.BucketNotFound, match='bucket "ais://nope-x1" does not exist'):
        api.head_object("nope-x1", "k")  # HEAD has no body: the client asks which one is missing
    with pytest.raises(errors.ObjectNotFound, match=f'object "ais://{bucket}/k" does not exist'):
        api.head_object(bucket, "k")
    with pytest.raises(errors.ObjectNotFound):
        api.get_bytes(bucket, "k")
    with pytest.raises(errors.BucketNotFound):
        api.list_objects("nope-x1")
    with pytest.raises(errors.JobNotFound):
        api.get_job("nojob")
    with pytest.raises(errors.BadDigest):
        api.put_object(bucket, "k", b"data", checksum=("md5", "0" * 32))
    with pytest.raises(errors.ObjectNotFound):  # the failed PUT stored nothing
        api.head_object(bucket, "k")
    with pytest.raises(EndpointUnreachable, match="connection refused"), Client("http://127.0.0.1:9") as dead:
        dead.health()


def test_sync_client_streams_objects(api: Client, bucket: str) -> None:
    chunks = [secrets.token_bytes(100_000) for _ in range(7)]
    data = b"".join(chunks)
    info = api.put_object(bucket, "dir/big", iter(chunks), size=len(data), content_type="application/x-test",
                          custom={"k": "v"}, checksum=("md5", hashlib.md5(data).hexdigest()))
    assert info.size == len(data) and info.cksum_value
    head = api.head_object(bucket, "dir/big")
    assert (head.size, head.content_type, head.custom) == (len(data), "application/x-test", {"k": "v"})
    assert api.get_bytes(bucket, "dir/big", offset=5, length=10) == data[5:15]
    with pytest.raises(errors.RangeNotSatisfiable) as bad_range:
        api.get_bytes(bucket, "dir/big", offset=len(data) + 10)
    assert bad_range.value.size == len(data)
    with api.open_object(bucket, "dir/big") as (oinfo, body):
        assert oinfo.size == oinfo.length == len(data) and b"".join(body) == data
    api.put_object(bucket, "chunked", iter([b"no ", b"length"]))  # chunked transfer encoding
    assert api.get_bytes(bucket, "chunked") == b"no length"
    api.copy_object(bucket, "chunked", "copy")
    api.rename_object(bucket, "copy", "renamed")
    names = [e["name"] for e in api.iter_objects(bucket, page_size=1)]  # paging
    assert names == ["chunked", "dir/big", "renamed"]
    assert [e["name"] for e in api.iter_objects(bucket, limit=2)] == ["chunked", "dir/big"]
    page = api.list_objects(bucket, no_recursion=True)
    assert [(e["name"], e["flags"]) for e in page["entries"]] == [("chunked", 64), ("dir/", 256), ("renamed", 64)]
    assert api.bucket_summary(bucket)["objects"] == 3
    job = api.wait_job(api.delete_objects(bucket, template="dir/"), timeout=30)
    assert not job["running"] and job["objs"] == 1
    api.delete_object(bucket, "renamed")
    assert [e["name"] for e in api.iter_objects(bucket)] == ["chunked"]


def test_download_verifies_checksums() -> None:
    """A server (here a stub) whose bytes do not match the checksum it claims is caught by `verify`."""
    data = b"hello world"

    def handler(request: httpx.Request) -> httpx.Response:
        claimed = hashlib.md5(data if request.url.path.endswith("/good") else b"other").hexdigest()
        return httpx.Response(200, content=data, headers={"Ais-Checksum-Type": "md5", "Ais-Checksum-Value": claimed})

    with Client("http://stub", http=httpx.Client(base_url="http://stub", transport=httpx.MockTransport(handler))) as cl:
        out = io.BytesIO()
        assert cl.download("b", "good", out, verify=True).cksum_value == hashlib.md5(data).hexdigest()
        assert out.getvalue() == data
        with pytest.raises(errors.ObjectCorrupted, match="md5 checksum mismatch"):
            cl.download("b", "bad", io.BytesIO(), verify=True)
        cl.download("b", "bad", io.BytesIO())  # not asked to verify


async def _agen(parts: list[bytes]) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


async def test_async_client_under_trio(shared_server: Server, tmp_path: Path) -> None:
    name = f"acl-{secrets.token_hex(4)}"
    async with AsyncClient(shared_server.url) as cl:
        assert (await cl.health())["status"] == "ok"
        await cl.create_bucket(name, {"checksum.type": "sha256"})
        try:
            assert (await cl.head_bucket(name))["checksum"]["type"] == "sha256"
            parts = [secrets.token_bytes(300_000) for _ in range(4)]
            data = b"".join(parts)
            info = await cl.put_object(name, "a/b", _agen(parts), size=len(data))
            assert info.cksum_type == "sha256" and info.cksum_value == hashlib.sha256(data).hexdigest()
            (tmp_path / "f").write_bytes(b"small")
            with open(tmp_path / "f", "rb") as f:
                await cl.put_object(name, "a/../c", aiter_file(f, chunk=2), size=5)
            assert await cl.get_bytes(name, "a/../c") == b"small"
            assert await cl.get_bytes(name, "a/b", offset=len(data) - 3) == data[-3:]
            async with cl.open_object(name, "a/b", offset=10, length=1000) as (oinfo, body):
                got = b"".join([c async for c in body])
            assert (oinfo.size, oinfo.length) == (len(data), 1000) and got == data[10:1010]
            assert [e["name"] async for e in cl.iter_objects(name, page_size=1)] == ["a/../c", "a/b"]
            with pytest.raises(errors.ObjectNotFound):
                await cl.head_object(name, "missing")
            with pytest.raises(errors.ObjectNotFound):
                async with cl.open_object(name, "missing"):
                    pass
            job_id = await cl.copy_bucket(name, name + "-copy")
            job = await cl.wait_job(job_id, timeout=30)
            assert job["objs"] == 2 and not job["running"]
            assert await cl.get_bytes(name + "-copy", "a/../c") == b"small"
        finally:
            for b in (name, name + "-copy"):
                with contextlib.suppress(errors.BucketNotFound):
                    await cl.destroy_bucket(b)
        with pytest.raises(errors.BucketNotFound):
            await cl.head_bucket(name)
