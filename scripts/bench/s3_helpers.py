"""Client-side helpers for the S3 benchmarks (s3_big.sh, s3_list_1m.sh).

    python s3_helpers.py presign ENDPOINT BUCKET KEY     # presigned PUT, GET, HEAD, DELETE URLs, one a line
    python s3_helpers.py fill PORT BUCKET N              # N small objects by anonymous PutObject
    python s3_helpers.py list PORT BUCKET N              # one full ListObjectsV2 listing: keys/s

`presign` uses boto3 (SigV4, path style, us-east-1, dummy credentials): `aws s3 presign` only
signs GETs. `fill` and `list` speak HTTP/1.1 over one keep-alive `http.client` connection to
127.0.0.1:PORT, anonymously (aisfs on loopback without keys; moto for a public-read bucket).
"""
from __future__ import annotations

import http.client
import re
import sys
import time
import urllib.parse
from xml.sax.saxutils import unescape

from populate import key

MAX_KEYS = 1000
KEY_RE = re.compile(rb"<Key>([^<]*)</Key>")
TOKEN_RE = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
TRUNCATED = b"<IsTruncated>true</IsTruncated>"


def presign(endpoint: str, bucket: str, obj: str) -> None:
    """Print presigned put_object, get_object, head_object and delete_object URLs (valid for a day)."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="benchkey",
                      aws_secret_access_key="benchsecret", region_name="us-east-1",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    for op in ("put_object", "get_object", "head_object", "delete_object"):
        print(s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": obj}, ExpiresIn=86400))


def fill(port: int, bucket: str, n: int) -> None:
    """PUT populate.py's first N keys (bodies of a few bytes) into BUCKET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(n):
        conn.request("PUT", f"/{bucket}/{key(i)}", body=b"%d" % i)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit(f"PUT {key(i)}: {resp.status} {data[:300]!r}")


def list_all(port: int, bucket: str, n: int) -> None:
    """List BUCKET with ListObjectsV2, MaxKeys=1000, following continuation tokens.

    Each page is parsed with two regular expressions over the raw bytes (the <Key> elements, the
    NextContinuationToken) rather than an XML parser: the keys are checked to be ascending across
    the whole listing and counted against N. Prints keys/s on stdout and the client's own share
    of the time (parsing and checks) on stderr.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    count, pages, last, client, token = 0, 0, b"", 0.0, ""
    t0 = time.monotonic()
    while True:
        query = f"list-type=2&max-keys={MAX_KEYS}"
        if token:
            query += "&continuation-token=" + urllib.parse.quote(token, safe="")
        conn.request("GET", f"/{bucket}?{query}")
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit(f"list failed: {resp.status} {data[:300]!r}")
        c0 = time.monotonic()
        keys = KEY_RE.findall(data)
        if keys and keys[0] <= last or any(a >= b for a, b in zip(keys, keys[1:])):
            sys.exit(f"page {pages}: keys out of order after {last!r}")
        if keys:
            last = keys[-1]
        count += len(keys)
        pages += 1
        more = TRUNCATED in data
        m = TOKEN_RE.search(data)
        token = unescape(m.group(1).decode(), {"&quot;": '"', "&apos;": "'"}) if m else ""
        client += time.monotonic() - c0
        if not more:
            break
        if not token:
            sys.exit(f"page {pages}: IsTruncated without a NextContinuationToken")
    el = time.monotonic() - t0
    if count != n:
        sys.exit(f"listed {count} keys, want {n}")
    print(f"  {count:,} keys in {pages:,} pages; client-side parsing and checks: {client:.2f} s of {el:.2f} s",
          file=sys.stderr)
    print(f"{count / el:.0f}")


def main(argv: list[str]) -> None:
    """Dispatch on the subcommand (see the module docstring)."""
    if len(argv) == 4 and argv[0] == "presign":
        presign(argv[1], argv[2], argv[3])
    elif len(argv) == 4 and argv[0] in ("fill", "list"):
        (fill if argv[0] == "fill" else list_all)(int(argv[1]), argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
