"""CPU of one 4 KiB GET inside the HTTP faces, without sockets: the S3 face (anonymous GetObject) next to
the REST face (`/v1/objects/...`), each request routed through the same app the server runs, its
response head encoded and its file closed, as the server would. No network, no `wrk`, no other process:
the figure moves far less with the rest of a shared machine's load than `get_4k_wrk.sh`'s req/s, so it
is the one to compare two checkouts with (run it from each, alternating).

    .venv/bin/python scripts/bench/app_cpu.py [--requests N] [--rounds K]

Not a test: never run in CI. Prints us per request for each face per round, then the medians and the
S3 / REST ratio. The data dir is a temp dir, removed at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from engine.core import Engine  # noqa: E402
from engine.http.app import make_app  # noqa: E402
from engine.http.server import Request, _Head, encode_head  # noqa: E402

TARGETS = {"S3": b"/bench/small/obj4k", "REST": b"/v1/objects/bench/small/obj4k"}


class _Peer:
    """What a Request reads from its connection: the client's address."""
    peer = "127.0.0.1"


def _head(target: bytes) -> _Head:
    """The request `wrk` sends."""
    return _Head(b"GET", target, [(b"Host", b"127.0.0.1:8080")], "1.1", True)


async def _measure(data: Path, n: int, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {face: [] for face in TARGETS}
    async with Engine.open(data) as engine:
        await engine.create_bucket("bench")
        await engine.put_object("bench", "small/obj4k", os.urandom(4096))
        app = make_app(engine)
        for _ in range(rounds):
            for face, target in TARGETS.items():
                head = _head(target)
                for i in range(n // 10 + n):  # a tenth to warm up, then the timed requests
                    if i == n // 10:
                        t0 = time.process_time()
                    resp = await app(Request(_Peer, head))  # type: ignore[arg-type]
                    assert resp.status == 200, (face, resp.status)
                    encode_head(resp.status, resp.headers)
                    resp.body.close()  # type: ignore[union-attr]
                out[face].append((time.process_time() - t0) / n * 1e6)
                print(f"  {face}: {out[face][-1]:.1f} us per request", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000, help="timed requests per face and round (20,000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, the faces alternating (default 3)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aisfs-appcpu.", dir=os.environ.get("BENCH_TMP")))
    try:
        out = trio.run(_measure, work / "data", args.requests, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    s3, rest = statistics.median(out["S3"]), statistics.median(out["REST"])
    print(f"GET 4 KiB in process: S3 {s3:.1f} us, REST {rest:.1f} us per request (median of {args.rounds}); "
          f"S3 / REST {s3 / rest:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
