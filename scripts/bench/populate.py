"""Fill a bucket with N small objects through the engine in-process (no HTTP), then time a full
in-process listing of it as the reference for the REST listing benchmark.

    python populate.py DATA_DIR BUCKET N [PAGE_SIZE]

Every object goes through `Engine.put_object`, so each one is a real data file with its xattr
and its index row. fsync is turned off while populating (a million tiny fsyncs would take most
of an hour and are not what is measured) and turned back to its previous value afterwards.
A bucket that already holds exactly N objects (a data dir kept from an earlier run, see
BENCH_LIST_DATA in list_1m.sh) is not filled again.
Prints progress to stderr and, last on stdout, the reference rate in entries/s (pages of
PAGE_SIZE entries, default 10,000 as the REST benchmark asks for; the S3 one lists 1,000).
"""
from __future__ import annotations

import sys
import time

import trio

from engine import Engine
from engine.errors import BucketNotFound

PAGE = 10_000


def key(i: int) -> str:
    # 1,000 "directories" of 1,000 objects, names of a typical data set's size.
    return f"shard-{i // 1000:04d}/sample-{i:07d}.jpg"


async def populate(eng: Engine, bucket: str, n: int) -> None:
    fsync = eng.get_config()["write_policy"]["fsync"]
    await eng.set_config({"write_policy.fsync": False})
    try:
        await eng.create_bucket(bucket)
        t0 = time.monotonic()
        for i in range(n):
            await eng.put_object(bucket, key(i), b"%d" % i)
            if (i + 1) % 100_000 == 0:
                el = time.monotonic() - t0
                print(f"  populated {i + 1:,} objects in {el:.0f} s ({(i + 1) / el:,.0f}/s)", file=sys.stderr)
    finally:
        await eng.set_config({"write_policy.fsync": fsync})


async def reference(eng: Engine, bucket: str, n: int, page_size: int = PAGE) -> float | None:
    """The same pages listed in-process, without HTTP or JSON: entries/s."""
    t0 = time.monotonic()
    count, token = 0, ""
    while True:
        page = await eng.list_objects(bucket, token=token, page_size=page_size)
        count += len(page.entries)
        token = page.token
        if not token:
            break
    el = time.monotonic() - t0
    if count != n:
        print(f"  in-process listing returned {count} entries, want {n}", file=sys.stderr)
        return None
    print(f"  in-process listing: {count:,} entries in {el:.2f} s ({page_size:,} per page)", file=sys.stderr)
    return count / el


async def main(data_dir: str, bucket: str, n: int, page_size: int = PAGE) -> str | None:
    """Returns an error message, or None; exiting inside the engine's nursery would bury it."""
    async with Engine.open(data_dir) as eng:
        try:
            have = (await eng.bucket_summary(bucket))["objects"]
        except BucketNotFound:
            await populate(eng, bucket, n)
        else:
            if have != n:
                return f"bucket {bucket} in {data_dir} holds {have} objects, not {n}: use another data dir"
            print(f"  {bucket} already holds {n:,} objects: not populating again", file=sys.stderr)
        rate = await reference(eng, bucket, n, page_size)
        if rate is None:
            return "the in-process listing did not return every object"
        print(f"{rate:.0f}")
    return None


if __name__ == "__main__":
    sys.exit(trio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]),
                      int(sys.argv[4]) if len(sys.argv) > 4 else PAGE))
