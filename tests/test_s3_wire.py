"""The S3 face on the wire: authentication, aws-chunked bodies, checksums, XML errors, hostile input."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import socket
import subprocess
import time
import zlib
from email.utils import formatdate
from pathlib import Path
from typing import AsyncIterator, Iterator
from xml.etree import ElementTree

import httpx
import pytest
import trio
from awscrt.checksums import crc64nvme
from botocore.exceptions import ClientError

from engine.checksum import new_hasher
from engine.http.s3 import chunked
from engine.http.s3.auth import Identity, signing_key
from s3kit import ACCESS, SECRET, client, keyed_server, sign_headers, signed
from support import Server, aisfs_cmd


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = keyed_server(tmp_path_factory.mktemp("s3w") / "data")
    try:
        client(f"{s.url}/s3").create_bucket(Bucket="wire")
        yield s
    finally:
        s.stop()


def xml_error(r: httpx.Response) -> dict[str, str]:
    root = ElementTree.fromstring(r.content)
    assert root.tag == "Error"
    return {c.tag: c.text or "" for c in root}


# authentication -----------------------------------------------------------------------------------
def test_wrong_keys_and_tampering_are_refused(srv: Server) -> None:
    url = f"{srv.url}/s3"
    with pytest.raises(ClientError) as e:
        client(url, secret="wrong").list_buckets()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        client(url, access="NOSUCHKEY").list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    r = httpx.get(f"{url}/wire")
    assert r.status_code == 403 and xml_error(r)["Code"] == "AccessDenied"
    # a signed request whose signed header is changed on the way
    ok = signed("GET", f"{url}/wire?list-type=2")
    assert ok.status_code == 200
    r = signed("PUT", f"{url}/wire/t", body=b"abc")
    assert r.status_code == 200
    r = _resend_with(f"{url}/wire/t", "x-amz-date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 3600)))
    assert r.status_code == 403 and xml_error(r)["Code"] in ("RequestTimeTooSkewed", "SignatureDoesNotMatch")
    # body changed after signing: the signed payload hash no longer matches
    r = signed("PUT", f"{url}/wire/t2", body=b"abc", payload_hash=hashlib.sha256(b"abd").hexdigest())
    assert r.status_code == 400 and xml_error(r)["Code"] == "XAmzContentSHA256Mismatch"
    with pytest.raises(ClientError):
        client(url).head_object(Bucket="wire", Key="t2")


def _resend_with(url: str, header: str, value: str) -> httpx.Response:
    h = sign_headers("GET", url, hashlib.sha256(b"").hexdigest())
    h[header] = value
    return httpx.get(url, headers=h)


def test_presigned_urls_v4_and_v2(srv: Server) -> None:
    url = f"{srv.url}/s3"
    s3 = client(url)
    s3.put_object(Bucket="wire", Key="pre/signed key", Body=b"presigned")
    v4 = client(url, signature_version="s3v4")
    good = v4.generate_presigned_url("get_object", Params={"Bucket": "wire", "Key": "pre/signed key"}, ExpiresIn=60)
    assert "X-Amz-Signature=" in good and httpx.get(good).content == b"presigned"
    tampered = good.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    assert xml_error(httpx.get(tampered))["Code"] == "SignatureDoesNotMatch"
    expired = v4.generate_presigned_url("get_object", Params={"Bucket": "wire", "Key": "pre/signed key"}, ExpiresIn=1)
    time.sleep(2.1)
    r = httpx.get(expired)
    assert r.status_code == 403 and "expired" in xml_error(r)["Message"].lower()
    override = v4.generate_presigned_url("get_object", ExpiresIn=60, Params={
        "Bucket": "wire", "Key": "pre/signed key", "ResponseContentDisposition": 'attachment; filename="x.txt"'})
    assert httpx.get(override).headers["content-disposition"] == 'attachment; filename="x.txt"'
    # presigned PUT
    put = v4.generate_presigned_url("put_object", Params={"Bucket": "wire", "Key": "pre/put"}, ExpiresIn=60)
    assert httpx.put(put, content=b"via url").status_code == 200
    assert s3.get_object(Bucket="wire", Key="pre/put")["Body"].read() == b"via url"
    # SigV2 (boto3's and awscli's default for presign)
    v2 = s3.generate_presigned_url("get_object", Params={"Bucket": "wire", "Key": "pre/signed key"}, ExpiresIn=60)
    assert "AWSAccessKeyId=" in v2 and httpx.get(v2).content == b"presigned"
    assert httpx.get(v2.replace("Expires=", "Expires=1")).status_code == 403
    # with temporary credentials: the session token is signed with the URL, in either version
    for version in ("s3", "s3v4"):
        session = client(url, token="FwoGZXIvYXdzEXAMPLE/token+=", signature_version=version)
        with_token = session.generate_presigned_url("get_object", ExpiresIn=60,
                                                    Params={"Bucket": "wire", "Key": "pre/signed key"})
        assert "ecurity-" in with_token and httpx.get(with_token).content == b"presigned", with_token
        assert session.get_object(Bucket="wire", Key="pre/signed key")["Body"].read() == b"presigned"
        assert httpx.get(with_token.replace("EXAMPLE", "EXAMPLF")).status_code == 403


def test_sigv2_header_auth_from_boto3(srv: Server) -> None:
    """boto3 told to sign with SigV2 (`signature_version="s3"`, as old configurations do) signs a bucket's own
    resource as "/bucket/": bucket calls must verify as well as object calls."""
    v2 = client(f"{srv.url}/s3", signature_version="s3")
    v2.create_bucket(Bucket="sigv2")
    v2.put_object(Bucket="sigv2", Key="ü/k +1", Body=b"two")
    assert v2.get_object(Bucket="sigv2", Key="ü/k +1")["Body"].read() == b"two"
    assert [o["Key"] for o in v2.list_objects_v2(Bucket="sigv2")["Contents"]] == ["ü/k +1"]
    v2.head_bucket(Bucket="sigv2")
    v2.delete_object(Bucket="sigv2", Key="ü/k +1")
    v2.delete_bucket(Bucket="sigv2")
    bad = client(f"{srv.url}/s3", secret="wrong", signature_version="s3")
    with pytest.raises(ClientError) as e:
        bad.list_objects_v2(Bucket="wire")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_anonymous_only_on_loopback_without_keys(tmp_path: Path) -> None:
    s = Server(tmp_path / "anon").start()
    try:
        s3 = client(f"{s.url}/s3", access="any", secret="thing")   # signatures are not checked without keys
        s3.create_bucket(Bucket="anon")
        assert httpx.put(f"{s.url}/s3/anon/k", content=b"unsigned").status_code == 200
        assert httpx.get(f"{s.url}/anon/k").content == b"unsigned"
    finally:
        s.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AISFS_")}
    p = subprocess.run(aisfs_cmd("serve", "--data-dir", str(tmp_path / "anon2"), "--listen", "0.0.0.0:0"),
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode != 0 and "--anonymous" in p.stderr


# bodies and checksums -----------------------------------------------------------------------------
def _sign_streaming(url: str, headers: dict[str, str], payload: str) -> tuple[httpx.Headers, Identity]:
    out = sign_headers("PUT", url, payload, headers)
    seed = out["authorization"].rsplit("Signature=", 1)[1]
    date = out["x-amz-date"]
    return out, Identity(ACCESS, payload, signing_key(SECRET, date[:8], "us-east-1", "s3"), seed, date,
                         f"{date[:8]}/us-east-1/s3/aws4_request")


def _signed_chunks(ident: Identity, pieces: list[bytes], trailer: str = "") -> bytes:
    """Frame `pieces` as STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] (the AWS spec, written out here)."""
    key, prev, out = ident.signing_key, ident.seed_signature, b""
    empty = hashlib.sha256(b"").hexdigest()
    for p in [*pieces, b""]:
        sts = f"AWS4-HMAC-SHA256-PAYLOAD\n{ident.amz_date}\n{ident.scope}\n{prev}\n{empty}\n{hashlib.sha256(p).hexdigest()}"
        prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += f"{len(p):x};chunk-signature={prev}\r\n".encode() + p + (b"\r\n" if p else b"")
    if trailer:
        sts = (f"AWS4-HMAC-SHA256-TRAILER\n{ident.amz_date}\n{ident.scope}\n{prev}\n"
               f"{hashlib.sha256((trailer + chr(10)).encode()).hexdigest()}")
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += f"{trailer}\r\nx-amz-trailer-signature:{sig}\r\n\r\n".encode()
    else:
        out += b"\r\n"
    return out


def test_aws_chunked_bodies(srv: Server) -> None:
    s3 = client(f"{srv.url}/s3")
    data = b"hello world" * 10_000
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    url = f"{srv.url}/s3/wire/chunked"
    # unsigned payload with a trailing checksum (what boto3 sends over HTTPS), in HTTP chunked framing
    body = f"{len(data):x}\r\n".encode() + data + f"\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n".encode()
    hdrs = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
            "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
    h, _ = _sign_streaming(url, hdrs, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    r = httpx.put(url, headers=h, content=iter([body[:5000], body[5000:]]))
    assert r.status_code == 200, r.text
    g = s3.get_object(Bucket="wire", Key="chunked", ChecksumMode="ENABLED")
    assert g["Body"].read() == data and g["ChecksumCRC32"] == crc and "ContentEncoding" not in g
    # a wrong trailing checksum stores nothing
    bad = body.replace(crc.encode(), base64.b64encode(b"\0\0\0\0"))
    h, _ = _sign_streaming(f"{url}-bad", hdrs, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    r = httpx.put(f"{url}-bad", headers=h, content=bad)
    assert r.status_code == 400 and xml_error(r)["Code"] == "BadDigest"
    # a trailing crc64nvme is verified (a wrong one stores nothing) and stored
    c64 = crc64nvme_b64(data)
    odd = {**hdrs, "x-amz-trailer": "x-amz-checksum-crc64nvme"}
    for key, value in (("chunked-crc64bad", "AAAAAAAAAAA="), ("chunked-crc64", c64)):
        h, _ = _sign_streaming(f"{srv.url}/s3/wire/{key}", odd, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        body64 = f"{len(data):x}\r\n".encode() + data + f"\r\n0\r\nx-amz-checksum-crc64nvme:{value}\r\n\r\n".encode()
        r = httpx.put(f"{srv.url}/s3/wire/{key}", headers=h, content=body64)
        assert (r.status_code, r.headers.get("x-amz-checksum-crc64nvme")) == ((400, None) if "bad" in key else (200, c64))
    assert xml_error(signed("GET", f"{url}-crc64bad"))["Code"] == "NoSuchKey"
    g = s3.get_object(Bucket="wire", Key="chunked-crc64", ChecksumMode="ENABLED")
    assert g["Body"].read() == data and g["ChecksumCRC64NVME"] == c64 and g["ChecksumType"] == "FULL_OBJECT"
    # signed chunks (minio-go, Java SDK), with and without a signed trailer
    pieces = [data[:65536], data[65536:]]
    shdr = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    h, ident = _sign_streaming(f"{url}-signed", shdr, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    assert httpx.put(f"{url}-signed", headers=h, content=_signed_chunks(ident, pieces)).status_code == 200
    assert s3.get_object(Bucket="wire", Key="chunked-signed")["Body"].read() == data
    h, ident = _sign_streaming(f"{url}-forged", shdr, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    forged = _signed_chunks(ident, pieces).replace(b"hello world", b"HELLO WORLD", 1)
    r = httpx.put(f"{url}-forged", headers=h, content=forged)
    assert r.status_code == 403 and xml_error(r)["Code"] == "SignatureDoesNotMatch"
    thdr = {**shdr, "x-amz-trailer": "x-amz-checksum-crc32"}
    h, ident = _sign_streaming(f"{url}-trailer", thdr, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
    body = _signed_chunks(ident, pieces, trailer=f"x-amz-checksum-crc32:{crc}")
    assert httpx.put(f"{url}-trailer", headers=h, content=body).status_code == 200
    assert s3.head_object(Bucket="wire", Key="chunked-trailer", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc


def test_aws_spec_streaming_vector() -> None:
    """The example in AWS's SigV4 streaming documentation, checked by the decoder."""
    key = signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3")
    ident = Identity("AKIAIOSFODNN7EXAMPLE", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", key,
                     "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", "20130524T000000Z",
                     "20130524/us-east-1/s3/aws4_request")
    body = (b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
            + b"a" * 65536 + b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
            b"\r\n" + b"a" * 1024 + b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
            b"\r\n\r\n")

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 999):
            yield body[i:i + 999]

    async def run() -> bytes:
        return b"".join([c async for c in chunked.decode(pieces(), ident, decoded_length=66560)])

    assert trio.run(run) == b"a" * 66560


def crc64nvme_b64(data: bytes) -> str:
    """The x-amz-checksum-crc64nvme value of `data` (CRC-64/NVME, big-endian, base64)."""
    return base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode()


def test_crc64nvme_check_value() -> None:
    """The CRC-64/NVME catalogue's check value, through the engine's hasher fed in pieces."""
    h = new_hasher("crc64nvme")
    for piece in (b"1234", memoryview(b"56789")):
        h.update(piece)
    assert h.hexdigest() == "ae8b14860a799888" and chunked.b64_to_hex(crc64nvme_b64(b"123456789"), "crc64nvme") == \
        "ae8b14860a799888"


def test_checksums_and_lengths(srv: Server) -> None:
    url = f"{srv.url}/s3/wire"
    body = b"checked body"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert signed("PUT", f"{url}/md5", body=body, headers={"content-md5": md5}).status_code == 200
    r = signed("PUT", f"{url}/md5bad", body=body, headers={"content-md5": base64.b64encode(b"0" * 16).decode()})
    assert r.status_code == 400 and xml_error(r)["Code"] == "BadDigest"
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert signed("PUT", f"{url}/sha", body=body, headers={"x-amz-checksum-sha256": sha}).status_code == 200
    r = signed("PUT", f"{url}/shabad", body=body, headers={"x-amz-checksum-crc32c": "AAAAAA=="})
    assert r.status_code == 400 and xml_error(r)["Code"] == "BadDigest"
    c64 = crc64nvme_b64(body)
    r = signed("PUT", f"{url}/c64", body=body, headers={"x-amz-checksum-crc64nvme": c64})
    assert r.status_code == 200 and r.headers["x-amz-checksum-crc64nvme"] == c64
    r = signed("PUT", f"{url}/c64bad", body=body, headers={"x-amz-checksum-crc64nvme": crc64nvme_b64(b"other")})
    assert r.status_code == 400 and xml_error(r)["Code"] == "BadDigest"
    r = signed("PUT", f"{url}/c64short", body=body, headers={"x-amz-checksum-crc64nvme": "AAAAAA=="})
    assert r.status_code == 400 and xml_error(r)["Code"] == "InvalidRequest"
    s3 = client(f"{srv.url}/s3")
    assert s3.head_object(Bucket="wire", Key="sha", ChecksumMode="ENABLED")["ChecksumSHA256"] == sha
    h = s3.head_object(Bucket="wire", Key="c64", ChecksumMode="ENABLED")
    assert h["ChecksumCRC64NVME"] == c64 and h["ChecksumType"] == "FULL_OBJECT"
    assert "ChecksumCRC64NVME" not in s3.head_object(Bucket="wire", Key="c64")
    for k in ("md5bad", "shabad", "c64bad", "c64short"):
        with pytest.raises(ClientError):
            s3.head_object(Bucket="wire", Key=k)
    # Transfer-Encoding: chunked without aws-chunked framing (UNSIGNED-PAYLOAD)
    r = signed("PUT", f"{url}/te", body=b"", payload_hash="UNSIGNED-PAYLOAD")
    assert r.status_code == 200
    h = dict(_resend_headers("PUT", f"{url}/te2", "UNSIGNED-PAYLOAD"))
    r = httpx.put(f"{url}/te2", headers=h, content=iter([b"part one, ", b"part two"]))
    assert r.status_code == 200 and s3.get_object(Bucket="wire", Key="te2")["Body"].read() == b"part one, part two"
    # non-ASCII user metadata sent as raw bytes comes back as the same bytes
    h = dict(_resend_headers("PUT", f"{url}/meta", hashlib.sha256(b"m").hexdigest()))
    raw = [(k.encode(), v.encode()) for k, v in h.items()] + [(b"x-amz-meta-name", "grüße 日本".encode()),
                                                              (b"x-amz-meta-latin", "café".encode("latin-1"))]
    r = httpx.put(f"{url}/meta", headers=raw, content=b"m")
    assert r.status_code == 200
    g = signed("GET", f"{url}/meta")
    assert g.headers.raw and dict(g.headers.raw)[b"x-amz-meta-name"] == "grüße 日本".encode()
    assert dict(g.headers.raw)[b"x-amz-meta-latin"] == "café".encode("latin-1")


def _resend_headers(method: str, url: str, payload: str) -> list[tuple[str, str]]:
    return list(sign_headers(method, url, payload).items())


# XML errors and hostile input -------------------------------------------------------------------------
def test_error_document_shape_and_hostile_xml(srv: Server) -> None:
    url = f"{srv.url}/s3/wire"
    r = signed("GET", f"{url}/no/such/key")
    assert r.status_code == 404 and r.headers["content-type"] == "application/xml"
    err = xml_error(r)
    assert err["Code"] == "NoSuchKey" and err["Resource"] and err["RequestId"] == r.headers["x-amz-request-id"]
    assert err["Message"] == "The specified key does not exist." and err["Key"] == "no/such/key"   # AWS's words
    err = xml_error(signed("GET", f"{srv.url}/s3/no-such-bucket/k"))
    assert err["Code"] == "NoSuchBucket" and err["BucketName"] == "no-such-bucket"
    assert err["Message"] == "The specified bucket does not exist"
    bomb = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><Delete><Object><Key>&c;</Key></Object></Delete>')
    r = signed("POST", f"{url}?delete", body=bomb, headers={"content-md5": base64.b64encode(hashlib.md5(bomb).digest()).decode()})
    assert r.status_code == 400 and xml_error(r)["Code"] == "MalformedXML"
    ext = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>'
    assert xml_error(signed("POST", f"{url}?delete", body=ext))["Code"] == "MalformedXML"
    huge = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 200_000 + b"</Delete>"
    r = signed("POST", f"{url}?delete", body=huge)
    assert r.status_code == 400 and xml_error(r)["Code"] in ("MalformedXML", "EntityTooLarge")
    assert xml_error(signed("POST", f"{url}?delete", body=b"<Delete><Object>"))["Code"] == "MalformedXML"
    r = signed("PUT", f"{url}?versioning", body=b"<VersioningConfiguration><Status>Maybe</Status></VersioningConfiguration>")
    assert xml_error(r)["Code"] == "MalformedXML"
    r = signed("PUT", f"{url}?lifecycle", body=b"<LifecycleConfiguration/>")
    assert r.status_code == 501 and xml_error(r)["Code"] == "NotImplemented"
    # a PUT with neither Content-Length nor chunked encoding
    h = _resend_headers("PUT", f"{url}/nolen", "UNSIGNED-PAYLOAD")
    with httpx.Client() as c:
        req = c.build_request("PUT", f"{url}/nolen", headers=h)
        req.headers.pop("content-length", None)
        r = c.send(req)
    assert r.status_code == 411 and xml_error(r)["Code"] == "MissingContentLength"


def test_virtual_hosted_style(srv: Server) -> None:
    assert httpx.put(f"{srv.url}/v1/daemon/set-config?s3.virtual_host_domain=s3.local").status_code == 200
    try:
        # sign for wire.s3.local, send to loopback with that Host header
        h = sign_headers("GET", f"http://wire.s3.local:{srv.port}/chunked", hashlib.sha256(b"").hexdigest())
        h["host"] = f"wire.s3.local:{srv.port}"
        r = httpx.get(f"{srv.url}/chunked", headers=h)
        assert r.status_code == 200 and r.content.startswith(b"hello world")
        # path-style still works beside it
        assert signed("GET", f"{srv.url}/s3/wire/chunked").status_code == 200
        # SigV2 headers (s3cmd with signature_v2 and host_bucket = %(bucket)s.<domain>): the resource signed
        # names the bucket, which the path does not
        date = formatdate(usegmt=True)
        sig = base64.b64encode(hmac.new(SECRET.encode(), f"GET\n\n\n{date}\n/wire/chunked".encode(),
                                        hashlib.sha1).digest()).decode()
        r = httpx.get(f"{srv.url}/chunked", headers={"host": f"wire.s3.local:{srv.port}", "date": date,
                                                     "authorization": f"AWS {ACCESS}:{sig}"})
        assert r.status_code == 200 and r.content.startswith(b"hello world"), r.text
    finally:
        httpx.put(f"{srv.url}/v1/daemon/set-config?s3.virtual_host_domain=")


def test_access_mask_space_and_size_limits(srv: Server) -> None:
    s3 = client(f"{srv.url}/s3")
    s3.create_bucket(Bucket="guarded")
    s3.put_object(Bucket="guarded", Key="k", Body=b"data")
    r = httpx.request("PATCH", f"{srv.url}/v1/buckets/guarded", json={"action": "set-bprops", "value": {"access": "ro"}})
    assert r.status_code == 200
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="guarded", Key="k2", Body=b"no")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="guarded", Key="k")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket="guarded", Key="k")["Body"].read() == b"data"
    r = s3.delete_objects(Bucket="guarded", Delete={"Objects": [{"Key": "k"}, {"Key": "other"}]})
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("k", "AccessDenied"), ("other", "AccessDenied")]
    # out of space: 507 InsufficientStorage, nothing stored
    full = {"space.cleanupwm": 1, "space.lowwm": 1, "space.highwm": 1, "space.out_of_space": 1}
    assert httpx.put(f"{srv.url}/v1/daemon", json={"action": "set-config", "value": full}).status_code == 200
    try:
        r = signed("PUT", f"{srv.url}/s3/wire/nospace", body=b"x")
        assert r.status_code == 507 and xml_error(r)["Code"] == "InsufficientStorage"
    finally:
        back = {"space.out_of_space": 95, "space.highwm": 90, "space.lowwm": 75, "space.cleanupwm": 65}
        assert httpx.put(f"{srv.url}/v1/daemon", json={"action": "set-config", "value": back}).status_code == 200
    # a declared size over S3's 5 TiB limit is refused before any byte is read
    h = sign_headers("PUT", f"{srv.url}/s3/wire/huge", "UNSIGNED-PAYLOAD")
    head = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(f"PUT /s3/wire/huge HTTP/1.1\r\nhost: 127.0.0.1:{srv.port}\r\n{head}"
                     f"content-length: {6 << 40}\r\n\r\n".encode())
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400") and b"<Code>EntityTooLarge</Code>" in answer


def test_dates_and_head_errors(srv: Server) -> None:
    url = f"{srv.url}/s3/wire"
    assert signed("PUT", f"{url}/dated", body=b"d").status_code == 200
    h = signed("HEAD", f"{url}/dated")
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", h.headers["last-modified"])
    listing = signed("GET", f"{url}?list-type=2&prefix=dated").text
    assert re.search(r"<LastModified>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z</LastModified>", listing)
    missing = signed("HEAD", f"{url}/not-there")
    assert missing.status_code == 404 and missing.content == b""
