"""Objects over /v1: streamed PUT, whole and ranged GET, HEAD attributes, DELETE, rename, copy,
checksum types, client-sent checksums, and keys that a path-per-key store could not hold."""
from __future__ import annotations

import hashlib
import os
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Iterator

import crc32c
import httpx
import pytest
import xxhash

from restkit import (act, assert_error, bucket_props, create_bucket, data_file, list_all, list_page, names, ourl,
                     set_props)
from support import Server, data_files, settled_data_files


@pytest.fixture(scope="module")
def c(shared_server: Server) -> Iterator[httpx.Client]:
    """One client on the module's server (its tests use distinct bucket names)."""
    with shared_server.client() as client:
        yield client


def test_streamed_put_and_whole_get(c: httpx.Client) -> None:
    """A chunked (streamed) multi-MiB PUT reads back byte for byte, with its checksum."""
    create_bucket(c, "stream")
    data = os.urandom(5 << 20) + b"tail"

    def gen() -> Iterator[bytes]:
        for i in range(0, len(data), 300_001):
            yield data[i:i + 300_001]

    r = c.put(ourl("stream", "big/blob.bin"), content=gen())
    assert r.status_code == 200, r.text
    assert r.headers["ais-checksum-value"] == xxhash.xxh3_64(data).hexdigest()
    g = c.get(ourl("stream", "big/blob.bin"))
    assert g.status_code == 200 and g.content == data
    assert int(g.headers["content-length"]) == len(data)
    assert c.put(ourl("stream", "empty"), content=b"").status_code == 200
    g = c.get(ourl("stream", "empty"))
    assert g.status_code == 200 and g.content == b""


def test_ranges(c: httpx.Client) -> None:
    """One byte range gives 206 with Content-Range; unsatisfiable ones give 416 JSON."""
    create_bucket(c, "ranges")
    data = bytes(range(256)) * 1000
    c.put(ourl("ranges", "r"), content=data)
    for spec, lo, hi in [("bytes=0-0", 0, 0), ("bytes=10-19", 10, 19), ("bytes=1000-", 1000, len(data) - 1),
                         ("bytes=-100", len(data) - 100, len(data) - 1), ("bytes=255990-999999999", 255990, 255999)]:
        g = c.get(ourl("ranges", "r"), headers={"Range": spec})
        assert g.status_code == 206, (spec, g.status_code)
        assert g.content == data[lo:hi + 1], spec
        assert g.headers["content-range"] == f"bytes {lo}-{hi}/{len(data)}"
        assert int(g.headers["content-length"]) == hi - lo + 1
    for spec in ("bytes=256000-", "bytes=999999-1000000", "bytes=0-1,5-9"):
        r = c.get(ourl("ranges", "r"), headers={"Range": spec})
        assert_error(r, 416)
        assert r.headers["content-range"] == f"bytes */{len(data)}"
    c.put(ourl("ranges", "zero"), content=b"")
    assert_error(c.get(ourl("ranges", "zero"), headers={"Range": "bytes=0-0"}), 416)


def test_head_headers_version_atime(c: httpx.Client) -> None:
    """HEAD carries checksum, version (incrementing per PUT), atime (moved by GET), ETag, dates, type, custom md."""
    create_bucket(c, "heads")
    url = ourl("heads", "doc.json")
    t0 = time.time()
    r = c.put(url, content=b'{"a":1}', headers={"Content-Type": "application/json", "Ais-Custom-Md": "k1=v1,k2=v2"})
    assert r.status_code == 200
    h = c.head(url)
    assert h.status_code == 200 and h.content == b""
    assert h.headers["content-length"] == "7"
    assert h.headers["content-type"] == "application/json"
    assert h.headers["ais-checksum-type"] == "xxhash"
    assert h.headers["ais-checksum-value"] == xxhash.xxh3_64(b'{"a":1}').hexdigest()
    assert h.headers["ais-version"] == "1"
    assert h.headers["ais-custom-md"] == "k1=v1,k2=v2"
    etag = h.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
    lm = parsedate_to_datetime(h.headers["last-modified"]).timestamp()
    assert t0 - 2 <= lm <= time.time() + 2
    atime1 = int(h.headers["ais-atime"])
    assert abs(atime1 / 1e9 - time.time()) < 60
    time.sleep(0.02)
    g = c.get(url)
    assert g.content == b'{"a":1}' and g.headers["ais-version"] == "1" and g.headers["etag"] == etag
    atime2 = int(c.head(url).headers["ais-atime"])
    assert atime2 > atime1
    listed = list_page(c, "heads", props="name,atime")["entries"][0]["atime"]  # same atime in a listing, at once
    assert datetime.fromisoformat(listed.replace("Z", "+00:00")).timestamp() >= atime2 // 1000 / 1e6 - 1e-6
    for v in (2, 3):
        r = c.put(url, content=b'{"a":%d}' % v)
        assert r.headers["ais-version"] == str(v)
        assert c.head(url).headers["ais-version"] == str(v)
    assert c.head(url).headers["etag"] != etag
    assert_error(c.get(ourl("heads", "missing")), 404, "missing")
    assert c.head(ourl("heads", "missing")).status_code == 404


def test_delete(c: httpx.Client) -> None:
    """DELETE removes the object (404 afterwards, and gone from listings); deleting again is 404."""
    create_bucket(c, "dels")
    c.put(ourl("dels", "x"), content=b"1")
    c.put(ourl("dels", "y"), content=b"2")
    assert c.delete(ourl("dels", "x")).status_code == 200
    assert_error(c.get(ourl("dels", "x")), 404)
    assert_error(c.delete(ourl("dels", "x")), 404)
    assert names(list_all(c, "dels")) == ["y"]


def test_rename_and_copy_object(c: httpx.Client) -> None:
    """rename-obj moves within the bucket; copy-obj copies (to another bucket too) keeping metadata."""
    create_bucket(c, "rc1")
    create_bucket(c, "rc2", {"checksum.type": "md5"})
    data = os.urandom(200_000)
    c.put(ourl("rc1", "src"), content=data, headers={"Ais-Custom-Md": "who=me", "Content-Type": "image/png"})
    r = act(c, "POST", ourl("rc1", "src"), "rename-obj", name="moved/dst")
    assert r.status_code == 200, r.text
    assert c.get(ourl("rc1", "src")).status_code == 404
    g = c.get(ourl("rc1", "moved/dst"))
    assert g.content == data and g.headers["ais-custom-md"] == "who=me" and g.headers["content-type"] == "image/png"
    r = act(c, "POST", ourl("rc1", "moved/dst"), "copy-obj", {"bucket": "rc2"}, name="copied")
    assert r.status_code == 200, r.text
    g = c.get(ourl("rc2", "copied"))
    assert g.content == data and g.headers["ais-custom-md"] == "who=me"
    assert g.headers["ais-checksum-type"] == "md5" and g.headers["ais-checksum-value"] == hashlib.md5(data).hexdigest()
    r = act(c, "POST", ourl("rc1", "moved/dst"), "copy-obj", name="same-bucket-copy")
    assert r.status_code == 200
    assert c.get(ourl("rc1", "same-bucket-copy")).content == data
    assert c.get(ourl("rc1", "moved/dst")).content == data
    # AIStore's own copy (its SDK's Object.copy): PUT, no body, ?object_to=<uname>; the source stays whole
    r = c.put(ourl("rc1", "moved/dst"), params={"object_to": "ais/@#/rc2/via uname", "latest": "false"})
    assert r.status_code == 200, r.text
    assert c.get(ourl("rc2", "via uname")).content == data and c.get(ourl("rc1", "moved/dst")).content == data
    assert_error(c.put(ourl("rc1", "moved/dst"), params={"object_to": "ais/@#/rc2/"}), 400, "destination object")
    assert_error(c.put(ourl("rc1", "moved/dst"), params={"object_to": "s3/@#/rc2/x"}), 501, "only ais")
    assert c.get(ourl("rc1", "moved/dst")).content == data
    assert names(list_all(c, "rc1")) == ["moved/dst", "same-bucket-copy"]
    assert_error(act(c, "POST", ourl("rc1", "nope"), "rename-obj", name="x"), 404)
    assert_error(act(c, "POST", ourl("rc1", "moved/dst"), "rename-obj"), 400, "name")
    assert_error(act(c, "POST", ourl("rc1", "moved/dst"), "explode-obj", name="x"), 400, "unknown action")


def expected_cksum(kind: str, data: bytes) -> str:
    """The value a user computes locally for each checksum type."""
    return {"none": lambda: "", "xxhash": lambda: xxhash.xxh3_64(data).hexdigest(),
            "md5": lambda: hashlib.md5(data).hexdigest(), "sha256": lambda: hashlib.sha256(data).hexdigest(),
            "sha512": lambda: hashlib.sha512(data).hexdigest(),
            "crc32c": lambda: f"{crc32c.crc32c(data):08x}"}[kind]()


@pytest.mark.parametrize("kind", ["none", "xxhash", "md5", "sha256", "sha512", "crc32c"])
def test_checksum_types(c: httpx.Client, kind: str) -> None:
    """Each bucket checksum type stores the value the client computes for the same bytes."""
    b = f"ck-{kind}"
    create_bucket(c, b)
    assert set_props(c, b, {"checksum.type": kind}).status_code == 200
    data = os.urandom(1_500_000) + b"x"
    r = c.put(ourl(b, "obj"), content=data)
    assert r.status_code == 200, r.text
    assert r.headers["ais-checksum-type"] == kind
    assert r.headers["ais-checksum-value"] == expected_cksum(kind, data)
    h = c.head(ourl(b, "obj"))
    assert (h.headers["ais-checksum-type"], h.headers["ais-checksum-value"]) == (kind, expected_cksum(kind, data))
    assert list_page(c, b, props="name,checksum")["entries"][0]["checksum"] == expected_cksum(kind, data)
    if kind == "md5":
        assert h.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert set_props(c, b, {"checksum.validate_warm_get": True}).status_code == 200
    assert c.get(ourl(b, "obj")).content == data


def test_client_checksum_verified(c: httpx.Client) -> None:
    """A client-sent checksum that matches is accepted; a mismatch is 400 and the previous version survives."""
    create_bucket(c, "verify")
    old, new = b"old version " * 1000, b"new version " * 1000
    url = ourl("verify", "v")
    r = c.put(url, content=old, headers={"Ais-Checksum-Type": "xxhash",
                                         "Ais-Checksum-Value": xxhash.xxh3_64(old).hexdigest()})
    assert r.status_code == 200, r.text
    for ctype, value in [("xxhash", xxhash.xxh3_64(b"something else").hexdigest()),
                         ("sha256", hashlib.sha256(old).hexdigest()), ("md5", "0" * 32)]:
        r = c.put(url, content=new, headers={"Ais-Checksum-Type": ctype, "Ais-Checksum-Value": value})
        assert_error(r, 400, "checksum")
        g = c.get(url)
        assert g.content == old and g.headers["ais-version"] == "1"
    r = c.put(url, content=new, headers={"Ais-Checksum-Type": "sha256",
                                         "Ais-Checksum-Value": hashlib.sha256(new).hexdigest().upper()})
    assert r.status_code == 200, r.text
    assert c.get(url).content == new
    assert names(list_all(c, "verify")) == ["v"]


def test_unknown_client_checksum_type_is_400(c: httpx.Client) -> None:
    """An Ais-Checksum-Type the server does not know is refused (400), the previous version kept."""
    create_bucket(c, "verify2")
    c.put(ourl("verify2", "v"), content=b"first")
    r = c.put(ourl("verify2", "v"), content=b"second", headers={"Ais-Checksum-Type": "rot13", "Ais-Checksum-Value": "00"})
    assert_error(r, 400, "rot13")
    assert c.get(ourl("verify2", "v")).content == b"first"


def test_header_metadata_is_utf8(c: httpx.Client) -> None:
    """Unicode custom metadata and content types round-trip as UTF-8; invalid UTF-8 is a 400, never a 500."""
    create_bucket(c, "hdrs")
    url = ourl("hdrs", "o")
    r = c.put(url, content=b"1", headers={"Ais-Custom-Md": "city=Z\u00fcrich,emoji=\U0001F600".encode(),
                                          "Content-Type": "text/plain; name=caf\u00e9".encode()})
    assert r.status_code == 200, r.text
    h = c.head(url)
    raw = dict((k.lower(), v) for k, v in h.headers.raw)
    assert raw[b"ais-custom-md"] == "city=Z\u00fcrich,emoji=\U0001F600".encode()
    assert raw[b"content-type"] == "text/plain; name=caf\u00e9".encode()
    entry = list_page(c, "hdrs", props="name,custom")["entries"][0]
    assert entry["custom-md"] == {"city": "Z\u00fcrich", "emoji": "\U0001F600"}
    for name in ("Ais-Custom-Md", "Content-Type"):
        bad = b"k=\xff\xfe" if name == "Ais-Custom-Md" else b"text/\xff"
        assert_error(c.put(ourl("hdrs", "bad"), content=b"2", headers={name: bad}), 400, "utf-8")
    # percent-encoded bytes are decoded, and must be UTF-8 as well
    assert_error(c.put(ourl("hdrs", "bad"), content=b"2", headers={"Ais-Custom-Md": "k=%FF"}), 400, "utf-8")
    assert_error(c.get(ourl("hdrs", "bad")), 404)


TRICKY = ["a/b", "a/b/c", "dir/", "dir/inner", "x" * 300, "deep/" + "y" * 256 + "/z", "caf\u00e9/\u65e5\u672c\u8a9e \U0001F600",
          "with space", "per%cent", "plus+sign", "a%2Fb", "dots..inside..name", "a/../b", "a/./b", "./x", "../up",
          "..", ".", "/leading", "//double//slashes", "trailing//", "q?mark#hash", "semi;colon&amp=eq",
          "tab\tand\nnewline", "\u00ff\u0100", "Z", "\x7f"]


def test_tricky_keys_round_trip_and_list(c: httpx.Client) -> None:
    """Keys a path-per-key store cannot hold round-trip exactly and list in UTF-8 byte order."""
    create_bucket(c, "tricky")
    for i, k in enumerate(TRICKY):
        r = c.put(ourl("tricky", k), content=k.encode() + bytes([i]))
        assert r.status_code == 200, (k, r.text)
    for i, k in enumerate(TRICKY):
        g = c.get(ourl("tricky", k))
        assert g.status_code == 200 and g.content == k.encode() + bytes([i]), k
        assert c.head(ourl("tricky", k)).headers["content-length"] == str(len(k.encode()) + 1)
    listed = names(list_all(c, "tricky"))
    assert listed == sorted(TRICKY, key=lambda s: s.encode())
    assert names(list_all(c, "tricky", pagesize=3)) == listed
    sizes = {e["name"]: e["size"] for e in list_all(c, "tricky")}
    assert all(sizes[k] == len(k.encode()) + 1 for k in TRICKY)
    assert c.delete(ourl("tricky", "a/b")).status_code == 200
    assert c.get(ourl("tricky", "a/b/c")).status_code == 200
    assert_error(c.get(ourl("tricky", "a/b")), 404)


def test_key_length_limit(c: httpx.Client) -> None:
    """1024 UTF-8 bytes is the longest key; one more byte is 400."""
    create_bucket(c, "keylen")
    k = "\u00e9" * 512
    assert c.put(ourl("keylen", k), content=b"ok").status_code == 200
    assert c.get(ourl("keylen", k)).content == b"ok"
    assert_error(c.put(ourl("keylen", k + "x"), content=b"no"), 400, "1024")


def test_non_recursive_listing_folds_at_slash(c: httpx.Client) -> None:
    """flags=2048 folds keys at `/` into directory entries (trailing `/`), paging included. Entry flags are
    AIStore's: 256 (EntryIsDir) for a directory, 64 (EntryIsCached; status LocOK = 0) for an object."""
    create_bucket(c, "fold")
    keys = ["a/b", "a/b/c", "a/b/d/e", "a/x", "dir/", "dir/f", "top", "zz/1", "zz/2", "/lead"]
    for k in keys:
        c.put(ourl("fold", k), content=b"1")
    top = list_all(c, "fold", flags="2048")
    assert [(e["name"], e["flags"]) for e in top] == [("/", 256), ("a/", 256), ("dir/", 256), ("top", 64), ("zz/", 256)]
    assert [(e["name"], e["flags"]) for e in list_all(c, "fold", flags="2048", pagesize=1)] == \
        [(e["name"], e["flags"]) for e in top]
    sub = list_all(c, "fold", prefix="a/", flags="2048")
    assert [(e["name"], e["flags"]) for e in sub] == [("a/b", 64), ("a/b/", 256), ("a/x", 64)]
    assert names(list_all(c, "fold", prefix="a/b/", flags="2048")) == ["a/b/c", "a/b/d/"]
    assert names(list_all(c, "fold", prefix="dir/", flags="2048")) == ["dir/", "dir/f"]
    assert names(list_all(c, "fold", prefix="a/")) == ["a/b", "a/b/c", "a/b/d/e", "a/x"]


def test_deleted_and_replaced_data_files_are_reclaimed(server: Server) -> None:
    """DELETE and overwrite free the old data files (off the request path), also when the server stops
    right after answering: nothing the index no longer references is left on disk."""
    with server.client() as c:
        create_bucket(c, "reap")
        for i in range(5):
            assert c.put(ourl("reap", f"k{i}"), content=os.urandom(2 << 20)).status_code == 200
        bid = bucket_props(c, "reap")["bid"]
        kept = data_file(server.data_dir, bid, "k4")
        assert len(data_files(server)) == 5
        for i in range(4):
            assert c.put(ourl("reap", f"k{i}"), content=b"small now").status_code == 200  # replaces
        assert c.delete(ourl("reap", "k0")).status_code == 200
        files = settled_data_files(server, 4)
        assert len(files) == 4 and kept in files
        for i in range(1, 4):
            assert c.delete(ourl("reap", f"k{i}")).status_code == 200
    server.stop()  # at once: whatever was still queued is removed at close
    assert data_files(server) == {kept}
