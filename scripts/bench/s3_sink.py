"""An S3 endpoint that does no work of its own: what an S3 client can move on this machine at all.

It reads and discards every request body and answers PutObject, CreateMultipartUpload, UploadPart
and CompleteMultipartUpload with the smallest answers clients accept, from a thread per connection.
With `--file F`, every GetObject and HeadObject, whatever the key, is F: one range or all of it,
sent by sendfile(2) from the page cache, no checksum, no index. Timing a client against it gives
the client's own ceiling, the reference for a server's figure with the same client
(docs/performance.md, "awscli's ceiling"; s3_big.sh prints these ceilings beside each run).

    .venv/bin/python scripts/bench/s3_sink.py --port 18200 [--file FILE] &
    AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y AWS_DEFAULT_REGION=us-east-1 \\
        .venv/bin/aws --endpoint-url http://127.0.0.1:18200 s3 cp FILE s3://any-bucket/key
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

XML = b'<?xml version="1.0" encoding="UTF-8"?>'
RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    file = ""  # what every GET and HEAD serves (--file); empty: 404

    def log_message(self, *args: object) -> None:
        pass

    def _discard_body(self) -> None:
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            got = self.rfile.read(min(left, 1 << 20))
            if not got:
                break
            left -= len(got)

    def _answer(self, body: bytes = b"", etag: str = "") -> None:
        self.send_response(200)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:   # PutObject, UploadPart
        self._discard_body()
        self._answer(etag='"d41d8cd98f00b204e9800998ecf8427e"')

    def do_POST(self) -> None:   # CreateMultipartUpload (?uploads), CompleteMultipartUpload (?uploadId=)
        self._discard_body()
        if "uploads" in self.path.partition("?")[2]:
            upload_id = secrets.token_hex(16).encode()
            self._answer(XML + b"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>"
                         + upload_id + b"</UploadId></InitiateMultipartUploadResult>")
        else:
            self._answer(XML + b'<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>'
                         b'<ETag>"00000000000000000000000000000000-1"</ETag></CompleteMultipartUploadResult>')

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        """The file, or the one range asked for, with the headers GetObject's clients read."""
        if not self.file:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = os.path.getsize(self.file)
        off, n, status = 0, size, 200
        if m := RANGE.match(self.headers.get("Range") or ""):
            off = int(m[1])
            n = min(int(m[2]) if m[2] else size - 1, size - 1) - off + 1
            status = 206
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {off}-{off + n - 1}/{size}")
        self.send_header("Content-Length", str(n))
        self.send_header("ETag", '"00000000000000000000000000000000"')
        self.send_header("Last-Modified", self.date_time_string(0))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if not head:
            with open(self.file, "rb") as f:
                self.connection.sendfile(f, off, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=18200)
    ap.add_argument("--file", default="", help="what every GetObject and HeadObject serves")
    args = ap.parse_args()
    Sink.file = args.file
    ThreadingHTTPServer(("127.0.0.1", args.port), Sink).serve_forever()


if __name__ == "__main__":
    main()
