"""Listing against a model: random keys, prefixes, start_after, page sizes, with and without folding at `/`."""
from __future__ import annotations

import random
from typing import Iterator

import httpx
import pytest

from restkit import create_bucket, fill, list_all
from support import Server

ALPHABET = ["a", "b", "/", "//", ".", "-", "z", "\u00e9", "\u65e5", "\U0001F600", " ", "%", "+", "0", "~", "\x7f"]


def model(keys: list[str], prefix: str, start_after: str, fold: bool) -> list[tuple[str, bool]]:
    """S3 semantics: keys under prefix after start_after, in UTF-8 order; with fold, one dir per first `/` after prefix."""
    out: list[tuple[str, bool]] = []
    for k in sorted(keys, key=str.encode):
        if not k.startswith(prefix) or k.encode() <= start_after.encode():
            continue
        cut = k.find("/", len(prefix)) if fold else -1
        item = (k[:cut + 1], True) if cut >= 0 else (k, False)
        if not out or out[-1] != item:
            out.append(item)
    return out


@pytest.fixture(scope="module")
def world(shared_server: Server) -> Iterator[tuple[httpx.Client, list[str]]]:
    """A bucket of random keys built from characters that stress ordering and folding."""
    rnd = random.Random(20240601)
    keys = sorted({"".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 7))) for _ in range(400)})
    keys = [k for k in keys if k not in (".", "..")] + ["a/b", "a/b/", "a/b/c", "a//", "/", "//x"]
    keys = sorted(set(keys))
    with shared_server.client() as c:
        create_bucket(c, "model")
        fill(shared_server.port, "model", keys, lambda k: b"m", conns=2)
        yield c, keys


def test_listing_matches_the_model(world: tuple[httpx.Client, list[str]]) -> None:
    """Hundreds of random (prefix, start_after, pagesize, fold) combinations list exactly what S3 would."""
    c, keys = world
    rnd = random.Random(7)
    probes = [""] + [k[:rnd.randint(0, len(k))] for k in rnd.sample(keys, 40)] + ["a/", "a/b/", "/", "zzz", "\U0001F600"]
    for i in range(80):
        prefix = rnd.choice(probes)
        start_after = rnd.choice(["", "", rnd.choice(keys), rnd.choice(probes)])
        fold = rnd.random() < 0.5
        pagesize = rnd.choice([3, 7, 50, 1000]) if prefix in ("", "a", "b", "z") else rnd.choice([1, 2, 3, 7, 1000])
        got = list_all(c, "model", prefix=prefix, start_after=start_after, pagesize=pagesize,
                       flags="2048" if fold else "0", props="name")
        want = model(keys, prefix, start_after, fold)
        assert [(e["name"], bool(e.get("flags", 0) & 256)) for e in got] == want, (prefix, start_after, fold, pagesize)
