"""Helpers for the S3 test modules: a keyed server, clients with default settings, raw signed requests."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterator

import boto3
import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from support import Server

ACCESS, SECRET = "AKIDAISFSTEST", "s3cr3t/Key+for-tests"
KEY_ENV = {"AISFS_ACCESS_KEY": ACCESS, "AISFS_SECRET_KEY": SECRET}
REGION = "us-east-1"


def keyed_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Server:
    return Server(data_dir, *extra, env={**KEY_ENV, **(env or {})}).start()


def client(endpoint: str, *, access: str = ACCESS, secret: str = SECRET, token: str | None = None,
           **config: Any) -> Any:
    """boto3 with default settings (CRC32 request checksums included), path-style on a custom endpoint;
    `token`: temporary credentials' session token, as AWS STS hands out."""
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
                        aws_session_token=token, region_name=REGION,
                        config=Config(s3={"addressing_style": "path"}, **config))


def no_retries(s3: Any) -> Any:
    """The same client, but a refused request fails at once: botocore retries some errors (BadDigest among
    them) with back-off, ~8 s before the error reaches the test."""
    return client(s3.meta.endpoint_url, retries={"total_max_attempts": 1})


class _FixedPayload(S3SigV4Auth):
    """botocore's SigV4 signer, signing the payload hash we choose (streaming, unsigned, or a lie)."""

    def __init__(self, payload_hash: str) -> None:
        super().__init__(Credentials(ACCESS, SECRET), "s3", REGION)
        self.payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self.payload_hash


def sign_headers(method: str, url: str, payload_hash: str, headers: dict[str, str] | None = None) -> httpx.Headers:
    """SigV4 headers for a request whose body the caller frames and sends itself."""
    req = AWSRequest(method=method, url=url, headers={**(headers or {}), "x-amz-content-sha256": payload_hash})
    _FixedPayload(payload_hash).add_auth(req)
    h = httpx.Headers(dict(req.prepare().headers.items()))
    h.pop("content-length", None)
    return h


def signed(method: str, url: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
           payload_hash: str | None = None) -> httpx.Response:
    """One raw request signed with SigV4 by botocore's signer (for shapes the SDKs never send)."""
    h = sign_headers(method, url, payload_hash or hashlib.sha256(body).hexdigest(), headers)
    return httpx.request(method, url, headers=h, content=body, timeout=30)


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def iter_keys(s3: Any, bucket: str, **kw: Any) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, **kw):
        for o in page.get("Contents", []):
            yield o["Key"]


def error_code(e: "pytest.ExceptionInfo[Any]") -> str:
    """The S3 error code a boto3 ClientError carries."""
    return e.value.response["Error"]["Code"]
