"""One full, timed listing of a bucket, page by page, over one keep-alive `http.client` connection to
127.0.0.1:PORT, for list_1m.sh (REST) and s3_list_1m.sh (S3):

    python listing_client.py rest PORT BUCKET N    # GET /v1/buckets/BUCKET {"action":"list"}, 10,000 a page
    python listing_client.py s3 PORT BUCKET N      # ListObjectsV2, max-keys=1000, anonymous

Names are checked to ascend across the whole listing and counted against N. Prints names/s on stdout and,
on stderr, the client's own share of the time (parsing and checks), so the server's part can be told apart.
REST pages are parsed with `json.loads`; S3 pages with two regular expressions over the raw bytes (the
<Key> elements and NextContinuationToken), not an XML parser, whose own cost would hide the server's.
"""
from __future__ import annotations

import http.client
import json
import re
import sys
import time
import urllib.parse
from typing import Any, Callable
from xml.sax.saxutils import unescape

REST_PAGE = 10_000
S3_PAGE = 1_000
KEY_RE = re.compile(rb"<Key>([^<]*)</Key>")
TOKEN_RE = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
TRUNCATED = b"<IsTruncated>true</IsTruncated>"

Fetch = Callable[[http.client.HTTPConnection, str, str], None]   # (conn, bucket, token): send one page request
Parse = Callable[[bytes], tuple[list[Any], str]]                 # page body -> (names, next token or "")


def rest_fetch(conn: http.client.HTTPConnection, bucket: str, token: str) -> None:
    body = json.dumps({"action": "list", "value": {"pagesize": REST_PAGE, "continuation_token": token}})
    conn.request("GET", f"/v1/buckets/{bucket}", body=body, headers={"Content-Type": "application/json"})


def rest_parse(data: bytes) -> tuple[list[Any], str]:
    page = json.loads(data)
    return [e["name"] for e in page["entries"]], page["continuation_token"]


def s3_fetch(conn: http.client.HTTPConnection, bucket: str, token: str) -> None:
    query = f"list-type=2&max-keys={S3_PAGE}"
    if token:
        query += "&continuation-token=" + urllib.parse.quote(token, safe="")
    conn.request("GET", f"/{bucket}?{query}")


def s3_parse(data: bytes) -> tuple[list[Any], str]:
    keys = KEY_RE.findall(data)
    if TRUNCATED not in data:
        return keys, ""
    m = TOKEN_RE.search(data)
    if not m:
        sys.exit("IsTruncated without a NextContinuationToken")
    return keys, unescape(m.group(1).decode(), {"&quot;": '"', "&apos;": "'"})


def list_all(port: int, bucket: str, n: int, fetch: Fetch, parse: Parse) -> None:
    """Follow continuation tokens to the end; exit non-zero on an error, a disorder or a wrong count."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    count, pages, last, client, token = 0, 0, None, 0.0, ""
    t0 = time.monotonic()
    while True:
        fetch(conn, bucket, token)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit(f"list failed: {resp.status} {data[:300]!r}")
        c0 = time.monotonic()
        names, token = parse(data)
        for name in names:
            if last is not None and name <= last:
                sys.exit(f"page {pages}: {name!r} out of order after {last!r}")
            last = name
        client += time.monotonic() - c0
        count += len(names)
        pages += 1
        if not token:
            break
    el = time.monotonic() - t0
    if count != n:
        sys.exit(f"listed {count} names, want {n}")
    print(f"  {count:,} names in {pages:,} pages; client-side parsing and checks: {client:.2f} s of {el:.2f} s",
          file=sys.stderr)
    print(f"{count / el:.0f}")


def main(argv: list[str]) -> None:
    faces = {"rest": (rest_fetch, rest_parse), "s3": (s3_fetch, s3_parse)}
    if len(argv) != 4 or argv[0] not in faces:
        sys.exit(__doc__)
    list_all(int(argv[1]), argv[2], int(argv[3]), *faces[argv[0]])


if __name__ == "__main__":
    main(sys.argv[1:])
