"""Multipart uploads written in place: parts of one size go straight into the upload's slab, which
becomes the object's data file on completion (no copy); whatever does not fit (a part uploaded
again, another size, a completion that leaves parts out) is copied instead; a client that drops
mid-part, or a server killed mid-part, leaves nothing a later upload of that part does not replace; the
object's checksum, hashed as the parts arrive, is the one its bytes have."""
from __future__ import annotations

import hashlib
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import xxhash

from restkit import bucket_props, data_file
from s3kit import client, random_bytes
from support import Server, data_files, settled_data_files

MiB = 1 << 20
PART = 5 * MiB


@pytest.fixture
def s3(server: Server) -> Any:
    """boto3 on conftest's keyless `server` (anonymous S3 on loopback, so a test can also speak raw HTTP
    to it), with room for a pool of part uploads."""
    s3 = client(server.url, max_pool_connections=16)
    s3.create_bucket(Bucket="slab")
    return s3


def _index(server: Server, query: str, *args: Any) -> list[tuple]:
    db = sqlite3.connect(f"file:{server.data_dir / 'index.db'}?mode=ro", uri=True)
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def _names(files: set[Path]) -> set[str]:
    return {p.name for p in files}


def _upload(s3: Any, key: str, uid: str, parts: dict[int, bytes]) -> list[dict[str, Any]]:
    return [{"PartNumber": n, "ETag": s3.upload_part(Bucket="slab", Key=key, UploadId=uid, PartNumber=n,
                                                     Body=d)["ETag"]} for n, d in parts.items()]


def _complete(s3: Any, key: str, uid: str, etags: list[dict[str, Any]]) -> dict[str, Any]:
    return s3.complete_multipart_upload(Bucket="slab", Key=key, UploadId=uid,
                                        MultipartUpload={"Parts": sorted(etags, key=lambda e: e["PartNumber"])})


def _check(s3: Any, server: Server, key: str, want: bytes) -> None:
    """What a user reads back: the bytes, through S3 and /v1, with the content's MD5 as the checksum."""
    assert s3.get_object(Bucket="slab", Key=key)["Body"].read() == want
    r = httpx.get(f"{server.url}/v1/objects/slab/{key}")
    assert r.content == want and r.headers["ais-checksum-value"] == hashlib.md5(want).hexdigest()


def test_parts_of_one_size_become_the_object_in_place(s3: Any, server: Server) -> None:
    parts = {2: random_bytes(PART), 1: random_bytes(PART), 3: random_bytes(1000)}   # any order
    uid = s3.create_multipart_upload(Bucket="slab", Key="obj")["UploadId"]
    etags = _upload(s3, "obj", uid, parts)
    [(slab,)] = _index(server, "SELECT fid FROM s3_slabs WHERE upload_id=?", uid)
    assert {r[0] for r in _index(server, "SELECT fid FROM s3_parts WHERE upload_id=?", uid)} == {slab}
    assert _names(data_files(server)) == {slab}   # one file holds every part
    _complete(s3, "obj", uid, etags)
    whole = parts[1] + parts[2] + parts[3]
    _check(s3, server, "obj", whole)
    with httpx.Client(base_url=server.url) as c:
        assert data_file(server.data_dir, bucket_props(c, "slab")["bid"], "obj").name == slab   # not copied
    assert _names(data_files(server)) == {slab}
    assert not _index(server, "SELECT * FROM s3_slabs") and not _index(server, "SELECT * FROM s3_parts")
    assert s3.get_object(Bucket="slab", Key="obj", PartNumber=2)["Body"].read() == parts[2]


def test_parts_that_do_not_fit_are_copied(s3: Any, server: Server) -> None:
    # part 1 uploaded twice (the second to a file of its own), part 2 larger than the slot
    parts = {1: random_bytes(PART), 2: random_bytes(PART + 1000), 3: random_bytes(10)}
    uid = s3.create_multipart_upload(Bucket="slab", Key="mixed")["UploadId"]
    _upload(s3, "mixed", uid, {1: random_bytes(PART)})
    etags = _upload(s3, "mixed", uid, parts)
    _complete(s3, "mixed", uid, etags)
    _check(s3, server, "mixed", b"".join(parts[n] for n in (1, 2, 3)))
    assert len(settled_data_files(server, 1)) == 1   # the slab and the parts' own files are gone
    # a completion that leaves a stored part out: the others are copied, the rest goes
    parts = {1: random_bytes(PART), 2: random_bytes(PART), 3: random_bytes(PART)}
    uid = s3.create_multipart_upload(Bucket="slab", Key="subset")["UploadId"]
    etags = _upload(s3, "subset", uid, parts)
    _complete(s3, "subset", uid, etags[:2])
    _check(s3, server, "subset", parts[1] + parts[2])
    assert len(settled_data_files(server, 2)) == 2


def test_concurrent_parts_and_one_part_twice_at_once(s3: Any, server: Server) -> None:
    """As awscli uploads: many parts at a time; the same part number twice at once (a client's retry)."""
    parts = {n: random_bytes(PART) for n in range(1, 13)}
    twice = random_bytes(PART)
    uid = s3.create_multipart_upload(Bucket="slab", Key="many")["UploadId"]
    jobs = [*parts.items(), (5, twice)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: _upload(s3, "many", uid, {job[0]: job[1]}), jobs))
    listed = s3.list_parts(Bucket="slab", Key="many", UploadId=uid)["Parts"]
    assert [p["PartNumber"] for p in listed] == list(range(1, 13))
    fifth = twice if listed[4]["ETag"] == f'"{hashlib.md5(twice).hexdigest()}"' else parts[5]
    _complete(s3, "many", uid, [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed])
    _check(s3, server, "many", b"".join(fifth if n == 5 else parts[n] for n in range(1, 13)))
    assert len(settled_data_files(server, 1)) == 1


def _start_part(server: Server, uid: str, number: int, sent: bytes, declared: int) -> socket.socket:
    """An UploadPart whose client has sent `sent` of `declared` bytes so far."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"PUT /slab/torn?partNumber={number}&uploadId={uid} HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Length: {declared}\r\n\r\n".encode() + sent)
    return sock


def test_a_dropped_client_or_a_killed_server_mid_part(s3: Any, server: Server) -> None:
    parts = {1: random_bytes(PART), 2: random_bytes(PART), 3: random_bytes(PART)}
    uid = s3.create_multipart_upload(Bucket="slab", Key="torn")["UploadId"]
    etags = _upload(s3, "torn", uid, {1: parts[1]})
    # part 2's client drops after half its bytes (garbage in its slot), part 3's server is killed
    torn = random_bytes(PART)
    _start_part(server, uid, 2, torn[: PART // 2], PART).close()
    deadline = time.monotonic() + 5
    sock = _start_part(server, uid, 3, torn[: PART // 2], PART)
    while len(_index(server, "SELECT * FROM s3_parts WHERE upload_id=?", uid)) != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    server.kill9()
    sock.close()
    server.start()
    assert [p["PartNumber"] for p in s3.list_parts(Bucket="slab", Key="torn", UploadId=uid)["Parts"]] == [1]
    etags += _upload(s3, "torn", uid, {3: parts[3], 2: parts[2]})
    _complete(s3, "torn", uid, etags)
    _check(s3, server, "torn", parts[1] + parts[2] + parts[3])
    assert len(settled_data_files(server, 1)) == 1


def test_abort_removes_the_slab(s3: Any, server: Server) -> None:
    uid = s3.create_multipart_upload(Bucket="slab", Key="gone")["UploadId"]
    _upload(s3, "gone", uid, {1: random_bytes(PART), 2: random_bytes(PART), 4: random_bytes(3)})
    _upload(s3, "gone", uid, {2: random_bytes(PART)})   # a part's own file too
    assert len(data_files(server)) == 2
    s3.abort_multipart_upload(Bucket="slab", Key="gone", UploadId=uid)
    assert settled_data_files(server, 0) == set()
    assert not _index(server, "SELECT * FROM s3_slabs")


def test_a_checksum_type_changed_mid_upload_is_the_one_the_object_gets(s3: Any, server: Server) -> None:
    """Parts are hashed for the object as they arrive, with the bucket's checksum type of that moment;
    a type changed before the completion is the one the object is checksummed with."""
    parts = {1: random_bytes(PART), 2: random_bytes(PART), 3: random_bytes(100)}
    uid = s3.create_multipart_upload(Bucket="slab", Key="retyped")["UploadId"]
    etags = _upload(s3, "retyped", uid, parts)
    with httpx.Client(base_url=server.url) as c:
        r = c.request("PATCH", "/v1/buckets/slab", json={"action": "set-bprops", "value": {"checksum": {"type": "xxhash"}}})
        assert r.status_code == 200, r.text
    _complete(s3, "retyped", uid, etags)
    whole = parts[1] + parts[2] + parts[3]
    r = httpx.get(f"{server.url}/v1/objects/slab/retyped")
    assert r.content == whole and r.headers["ais-checksum-type"] == "xxhash"
    assert r.headers["ais-checksum-value"] == xxhash.xxh3_64(whole).hexdigest()


def test_a_first_part_stored_last_after_many_others(s3: Any, server: Server) -> None:
    """Part 1 retried at the very end (300 MiB of later parts already stored): its answer hashes only a
    bounded run ahead, the completion hashes the rest, and the object's MD5 is its bytes'."""
    shared, first, last = random_bytes(PART), random_bytes(PART), random_bytes(12345)
    count = 61
    uid = s3.create_multipart_upload(Bucket="slab", Key="late")["UploadId"]
    body = {n: shared for n in range(2, count)} | {count: last}
    with ThreadPoolExecutor(8) as pool:
        etags = [e for chunk in pool.map(lambda n: _upload(s3, "late", uid, {n: body[n]}), body) for e in chunk]
    etags += _upload(s3, "late", uid, {1: first})
    _complete(s3, "late", uid, etags)
    want = hashlib.md5(first)
    for n in range(2, count + 1):
        want.update(body[n])
    r = httpx.head(f"{server.url}/v1/objects/slab/late")
    assert r.headers["ais-checksum-value"] == want.hexdigest()
    assert int(r.headers["content-length"]) == PART * (count - 1) + len(last)
    got = hashlib.md5()
    for chunk in s3.get_object(Bucket="slab", Key="late")["Body"].iter_chunks(1 << 20):
        got.update(chunk)
    assert got.hexdigest() == want.hexdigest()
