"""Client-side helpers for the S3 benchmarks (s3_big.sh, s3_list_1m.sh; listings: listing_client.py).

    python s3_helpers.py presign ENDPOINT BUCKET KEY     # presigned PUT, GET, HEAD, DELETE URLs, one a line
    python s3_helpers.py fill PORT BUCKET N              # N small objects by anonymous PutObject

`presign` uses boto3 (SigV4, path style, us-east-1, dummy credentials): `aws s3 presign` only
signs GETs. `fill` speaks HTTP/1.1 over one keep-alive `http.client` connection to 127.0.0.1:PORT,
anonymously (aisfs on loopback without keys; moto for a public-read bucket).
"""
from __future__ import annotations

import http.client
import sys

from populate import key


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


def main(argv: list[str]) -> None:
    """Dispatch on the subcommand (see the module docstring)."""
    if len(argv) == 4 and argv[0] == "presign":
        presign(argv[1], argv[2], argv[3])
    elif len(argv) == 4 and argv[0] == "fill":
        fill(int(argv[1]), argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
