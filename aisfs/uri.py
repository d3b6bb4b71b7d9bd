"""`ais://bucket/key` URIs as the CLI takes them, and object names as the REST API wants them in URLs.

The one place that knows both spellings, so the CLI and the REST client never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from engine.errors import BadRequest
from engine.names import check_bucket_name

SCHEME = "ais://"


@dataclass(frozen=True, slots=True)
class Uri:
    """A parsed CLI argument: no bucket (`ais://`), a bucket, or an object (or prefix) in a bucket."""

    bucket: str = ""
    key: str = ""

    def __str__(self) -> str:
        return object_uri(self.bucket, self.key) if self.key else bucket_uri(self.bucket)


def bucket_uri(bucket: str) -> str:
    return f"{SCHEME}{bucket}"


def object_uri(bucket: str, key: str) -> str:
    return f"{SCHEME}{bucket}/{key}"


def parse(text: str, *, allow_empty: bool = False) -> Uri:
    """Parse `ais://b/key`, `ais://b`, `b/key` or `b`; `ais://` (no bucket) only with `allow_empty`.

    Raises BadRequest for other providers (`s3://...`) and invalid bucket names.
    """
    scheme, sep, after = text.partition("://")
    if sep and "/" not in scheme:
        if scheme.lower() != "ais":
            raise BadRequest(f"{text!r}: only ais:// buckets are supported (not {scheme}://)")
        rest = after
    else:
        rest = text
    bucket, _, key = rest.partition("/")
    if not bucket:
        if key or not allow_empty:
            raise BadRequest(f"{text!r}: expected ais://BUCKET[/OBJECT]")
        return Uri()
    if bucket.startswith("@") or bucket.startswith(":"):
        raise BadRequest(f"{text!r}: remote clusters and namespaces are not supported")
    check_bucket_name(bucket)
    return Uri(bucket, key)


def quote_segment(segment: str) -> str:
    """Percent-encode one path segment; `.`/`..` become `%2E`/`%2E%2E` so nothing normalizes them."""
    if segment in (".", ".."):
        return "%2E" * len(segment)
    return quote(segment, safe="")


def quote_key(key: str) -> str:
    """An object name for a `/v1/objects/B/KEY` URL: every segment encoded, `/` kept as is."""
    return "/".join(quote_segment(s) for s in key.split("/"))
