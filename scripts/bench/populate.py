"""Fill a bucket with N small objects through the engine in-process (no HTTP), then time a full
in-process listing of it as the reference for the REST listing benchmark.

    python populate.py DATA_DIR BUCKET N

Every object goes through `Engine.put_object`, so each one is a real data file with its xattr
and its index row. fsync is turned off while populating (a million tiny fsyncs would take most
of an hour and are not what is measured) and turned back to its previous value afterwards.
Prints progress to stderr and, last on stdout, the reference rate in entries/s.
"""
from __future__ import annotations

import sys
import time

import trio

from engine import Engine

PAGE = 10_000


def key(i: int) -> str:
    # 1,000 "directories" of 1,000 objects, names of a typical data set's size.
    return f"shard-{i // 1000:04d}/sample-{i:07d}.jpg"


async def main(data_dir: str, bucket: str, n: int) -> None:
    async with Engine.open(data_dir) as eng:
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

        # Reference: the same pages listed in-process, without HTTP or JSON.
        t0 = time.monotonic()
        count, token = 0, ""
        while True:
            page = await eng.list_objects(bucket, token=token, page_size=PAGE)
            count += len(page.entries)
            token = page.token
            if not token:
                break
        el = time.monotonic() - t0
        if count != n:
            sys.exit(f"in-process listing returned {count} entries, want {n}")
        print(f"  in-process listing: {count:,} entries in {el:.2f} s", file=sys.stderr)
        print(f"{count / el:.0f}")


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
