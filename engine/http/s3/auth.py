"""S3 request authentication: SigV4 (header, presigned URL, signed aws-chunked streams) and SigV2
(presigned URL and header, for s3cmd/awscli `presign`), against the configured access keys.

With no keys configured every request is anonymous (the server refuses to start that way on a
non-loopback address unless told `--anonymous`, see aisfs/serve.py).
"""
from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_tz, mktime_tz
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote, unquote

from ...errors import AccessDenied
from .errors import (AuthorizationHeaderMalformed, InvalidAccessKeyId, RequestTimeTooSkewed,
                     SignatureDoesNotMatch)

if TYPE_CHECKING:
    from ...core import Engine
    from ..server import Request

ALGO = "AWS4-HMAC-SHA256"
MAX_SKEW = 15 * 60
MAX_PRESIGN_EXPIRY = 7 * 24 * 3600
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
ENV_ACCESS, ENV_SECRET = "AISFS_ACCESS_KEY", "AISFS_SECRET_KEY"
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
# A query part already in SigV4's canonical form: unreserved characters, and %XX (upper-case) for other bytes.
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_ESCAPE = "|".join(f"%{b:02X}" for b in range(256) if chr(b) not in _UNRESERVED)
_CANONICAL_PART = re.compile(f"(?:[A-Za-z0-9_.~-]|{_ESCAPE})*=(?:[A-Za-z0-9_.~-]|{_ESCAPE})*")

# SigV2 signs these query parameters as part of the resource.
V2_SUBRESOURCES = frozenset((
    "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
    "requestPayment", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website", "object-lock", "response-content-type", "response-content-language",
    "response-expires", "response-cache-control", "response-content-disposition", "response-content-encoding"))


@dataclass(slots=True)
class Identity:
    """Who signed the request, and what a signed aws-chunked body needs to check its chunks."""

    access_key: str = ""                 # "" = anonymous
    payload_hash: str = UNSIGNED         # x-amz-content-sha256 as signed (hex, UNSIGNED-PAYLOAD, STREAMING-...)
    signing_key: bytes = b""
    seed_signature: str = ""
    amz_date: str = ""
    scope: str = ""

    @property
    def anonymous(self) -> bool:
        return not self.access_key


def env_keys() -> dict[str, str]:
    """The key pair in AISFS_ACCESS_KEY/AISFS_SECRET_KEY, if both are set."""
    ak, sk = os.environ.get(ENV_ACCESS, ""), os.environ.get(ENV_SECRET, "")
    return {ak: sk} if ak and sk else {}


def configured_keys(engine: "Engine", env: dict[str, str] | None = None) -> dict[str, str]:
    """Access key -> secret: config `s3.keys` (changeable at run time) plus `env` (`env_keys()` if None)."""
    keys = dict(engine.config.doc["s3"].get("keys") or {})
    keys.update(env_keys() if env is None else env)
    return keys


@lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def hmac_hex(key: bytes, msg: str | bytes) -> str:
    return hmac.new(key, msg.encode("utf-8", "surrogateescape") if isinstance(msg, str) else msg,
                    hashlib.sha256).hexdigest()


def _sha256_hex(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8", "surrogateescape")).hexdigest()


def _uri_encode(s: str, *, slash: bool) -> str:
    return quote(s, safe="/-_.~" if slash else "-_.~")


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    """Query parameters decoded once, '+' kept literal (S3 signs what was sent, not a form)."""
    out = []
    for part in query_string.split("&"):
        if part:
            k, _, v = part.partition("=")
            out.append((unquote(k), unquote(v)))
    return out


def canonical_query(query_string: str, *, drop: str = "") -> str:
    pairs = sorted((_uri_encode(k, slash=False), _uri_encode(v, slash=False))
                   for k, v in _query_pairs(query_string) if k != drop)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _canonical_queries(query_string: str, drop: str) -> Iterator[str]:
    """The query as sent, sorted, when it is already encoded as SigV4 wants (the usual case, and cheap);
    then the full canonicalization."""
    parts = [p if "=" in p else p + "=" for p in query_string.split("&") if p]
    parts = [p for p in parts if p.partition("=")[0] != drop]
    fast = None
    if all(_CANONICAL_PART.fullmatch(p) for p in parts):
        fast = "&".join(sorted(parts, key=lambda p: p.partition("=")[::2]))
        yield fast
    slow = canonical_query(query_string, drop=drop)
    if slow != fast:
        yield slow


def _canonical_uris(raw_path: str) -> Iterator[str]:
    """The path as sent (what botocore and minio sign), then its canonical re-encoding (what AWS defines)."""
    raw = raw_path or "/"
    yield raw
    canon = _uri_encode(unquote(raw), slash=True)
    if canon != raw:
        yield canon


def _parse_amz_date(s: str) -> float:
    if not _AMZ_DATE.fullmatch(s):
        raise AccessDenied(f"invalid X-Amz-Date {s!r}")
    try:
        return calendar.timegm((int(s[:4]), int(s[4:6]), int(s[6:8]), int(s[9:11]), int(s[11:13]), int(s[13:15])))
    except ValueError:
        raise AccessDenied(f"invalid X-Amz-Date {s!r}") from None


_HOST_PORT = re.compile(r":\d+$")


def host_bucket(req: "Request", s3_config: dict[str, Any]) -> str:
    """The bucket a virtual-hosted-style request names in its Host (`BUCKET.<s3.virtual_host_domain>`), else ""."""
    domain = s3_config.get("virtual_host_domain", "")
    if not domain:
        return ""
    host = _HOST_PORT.sub("", req.headers.get("host", "")).lower()
    return host[: -len(domain) - 1] if host.endswith("." + domain.lower()) else ""


def _check_skew(ts: float) -> None:
    if abs(time.time() - ts) > MAX_SKEW:
        raise RequestTimeTooSkewed("the difference between the request time and the server's time is too large")


class Authenticator:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        # read once, when the server starts (a process's environment does not change under it); looking
        # the two names up was ~3% of a 4 KiB GET's server CPU
        self._env = env_keys()

    def authenticate(self, req: "Request") -> Identity:
        keys = configured_keys(self.engine, self._env)
        authz = req.headers.get("authorization", "")
        q = req.query_string
        if not keys:
            ident = Identity(payload_hash=req.headers.get("x-amz-content-sha256", UNSIGNED))
            return ident
        if authz.startswith(ALGO):
            return self._v4_header(req, authz, keys)
        if authz.startswith("AWS "):
            return self._v2(req, keys, authz[4:], req.headers.get("x-amz-date") or req.headers.get("date", ""),
                            header=True)
        if "X-Amz-Signature=" in q or "X-Amz-Credential=" in q:
            return self._v4_presigned(req, keys)
        if "Signature=" in q and "AWSAccessKeyId=" in q:
            qd = dict(_query_pairs(q))
            return self._v2(req, keys, f"{qd.get('AWSAccessKeyId', '')}:{qd.get('Signature', '')}",
                            qd.get("Expires", ""), header=False)
        raise AccessDenied("anonymous access is not allowed: sign the request with an access key")

    # SigV4 ----------------------------------------------------------------------------------------
    def _v4_header(self, req: "Request", authz: str, keys: dict[str, str]) -> Identity:
        fields: dict[str, str] = {}
        for part in authz[len(ALGO):].split(","):
            k, sep, v = part.strip().partition("=")
            if sep:
                fields[k.strip()] = v.strip()
        try:
            cred, signed_headers, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
        except KeyError:
            raise AuthorizationHeaderMalformed("the authorization header is malformed") from None
        amz_date = req.headers.get("x-amz-date", "")
        if not amz_date:
            d = parsedate_tz(req.headers.get("date", ""))
            if d is None:
                raise AccessDenied("the request has no X-Amz-Date or Date header")
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(mktime_tz(d)))
        _check_skew(_parse_amz_date(amz_date))
        payload = req.headers.get("x-amz-content-sha256", "")
        if not payload:
            payload = EMPTY_SHA256 if not req.has_body else UNSIGNED
        return self._v4_verify(req, keys, cred, signed_headers, signature, amz_date, payload,
                               req.query_string, "")

    def _v4_presigned(self, req: "Request", keys: dict[str, str]) -> Identity:
        qd = dict(_query_pairs(req.query_string))
        if qd.get("X-Amz-Algorithm") != ALGO:
            raise AuthorizationHeaderMalformed("X-Amz-Algorithm must be AWS4-HMAC-SHA256")
        try:
            cred, signed_headers, signature = qd["X-Amz-Credential"], qd["X-Amz-SignedHeaders"], qd["X-Amz-Signature"]
            amz_date, expires = qd["X-Amz-Date"], int(qd["X-Amz-Expires"])
        except (KeyError, ValueError):
            raise AuthorizationHeaderMalformed("the presigned URL lacks a required X-Amz-* parameter") from None
        if not 0 < expires <= MAX_PRESIGN_EXPIRY:
            raise AuthorizationHeaderMalformed("X-Amz-Expires must be between 1 and 604800 seconds")
        start = _parse_amz_date(amz_date)
        now = time.time()
        if now > start + expires:
            raise AccessDenied("Request has expired")
        if start > now + MAX_SKEW:
            raise RequestTimeTooSkewed("the presigned URL's X-Amz-Date is in the future")
        payload = qd.get("X-Amz-Content-Sha256", UNSIGNED)
        return self._v4_verify(req, keys, cred, signed_headers, signature, amz_date, payload,
                               req.query_string, "X-Amz-Signature")

    def _v4_verify(self, req: "Request", keys: dict[str, str], cred: str, signed_headers: str, signature: str,
                   amz_date: str, payload: str, query_string: str, drop: str) -> Identity:
        parts = cred.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise AuthorizationHeaderMalformed(f"malformed credential {cred!r}")
        access_key, date, region, service, _ = parts
        secret = keys.get(access_key)
        if secret is None:
            raise InvalidAccessKeyId("the access key id you provided does not exist in our records")
        if date != amz_date[:8]:
            raise AuthorizationHeaderMalformed("the credential date does not match X-Amz-Date")
        names = signed_headers.split(";")
        if "host" not in names:
            raise AuthorizationHeaderMalformed("the host header must be signed")
        canon_headers = "".join(f"{n}:{' '.join(req.headers.get(n, '').split())}\n" for n in names)
        scope = f"{date}/{region}/{service}/aws4_request"
        key = signing_key(secret, date, region, service)
        for cq in _canonical_queries(query_string, drop):
            for uri in _canonical_uris(req.raw_path):
                creq = f"{req.method}\n{uri}\n{cq}\n{canon_headers}\n{signed_headers}\n{payload}"
                sts = f"{ALGO}\n{amz_date}\n{scope}\n{_sha256_hex(creq)}"
                if hmac.compare_digest(hmac_hex(key, sts), signature):
                    return Identity(access_key, payload, key, signature, amz_date, scope)
        raise SignatureDoesNotMatch("the request signature we calculated does not match the signature you provided")

    # SigV2 ----------------------------------------------------------------------------------------
    def _v2(self, req: "Request", keys: dict[str, str], cred: str, when: str, *, header: bool) -> Identity:
        access_key, _, signature = cred.rpartition(":")
        secret = keys.get(access_key)
        if secret is None:
            raise InvalidAccessKeyId("the access key id you provided does not exist in our records")
        if header:
            d = parsedate_tz(when)
            if d is None:
                raise AccessDenied("the request has no valid Date header")
            _check_skew(mktime_tz(d))
        else:
            try:
                if time.time() > int(when):
                    raise AccessDenied("Request has expired")
            except ValueError:
                raise AccessDenied("invalid Expires in the presigned URL") from None
        h = req.headers
        signed = {k: v for k, v in h.items() if k.startswith("x-amz-")}
        if not header:   # a presigned URL carries its x-amz-* (a session's x-amz-security-token) in the query
            signed |= {k.lower(): v for k, v in _query_pairs(req.query_string) if k.lower().startswith("x-amz-")}
        amz = "".join(f"{k}:{' '.join(signed[k].split())}\n" for k in sorted(signed))
        date_line = when if not (header and "x-amz-date" in h) else ""
        pairs = sorted((k, v) for k, v in _query_pairs(req.query_string) if k in V2_SUBRESOURCES)
        sub = "&".join(f"{k}={v}" if v else k for k, v in pairs)
        paths = {req.raw_path, req.path}
        paths |= {p[3:] for p in list(paths) if p.startswith("/s3/")}
        # a bucket's own resource is "/bucket/" (botocore signs it so), whether or not the path has the slash
        paths |= {p + "/" for p in list(paths) if p.count("/") == 1 and len(p) > 1}
        if bucket := host_bucket(req, self.engine.config.doc["s3"]):
            paths = {f"/{bucket}{p}" for p in paths}   # virtual-hosted style: the resource names the bucket
        for path in paths:
            resource = path + (f"?{sub}" if sub else "")
            sts = f"{req.method}\n{h.get('content-md5', '')}\n{h.get('content-type', '')}\n{date_line}\n{amz}{resource}"
            want = base64.b64encode(hmac.new(secret.encode(), sts.encode("utf-8", "surrogateescape"),
                                             hashlib.sha1).digest()).decode()
            if hmac.compare_digest(want, signature):
                return Identity(access_key, h.get("x-amz-content-sha256", UNSIGNED))
        raise SignatureDoesNotMatch("the request signature we calculated does not match the signature you provided")
