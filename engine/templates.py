"""Object-name templates for multi-object work, as AIStore's CLI writes them.

`shard-{0000..9999..2}.tar` (several ranges allowed, zero padding kept from the width),
a bare prefix (`dir/`), or "" / "*" for every object.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Iterator

from .errors import BadRequest

MAX_EXPANSION = 10_000_000
_RANGE = re.compile(r"\{(\d+)\.\.(\d+)(?:\.\.(\d+))?\}")


@dataclass(frozen=True)
class Template:
    prefix: str                                  # literal text before the first range
    parts: tuple[str | tuple[int, int, int, int], ...]  # literals and (start, end, step, width)

    @property
    def is_prefix(self) -> bool:
        """True when the template names every object under `prefix` (no ranges)."""
        return len(self.parts) <= 1

    def count(self) -> int:
        n = 1
        for p in self.parts:
            if isinstance(p, tuple):
                n *= len(range(p[0], p[1] + 1, p[2]))
        return n

    def expand(self) -> Iterator[str]:
        choices: list[list[str]] = []
        for p in self.parts:
            if isinstance(p, str):
                choices.append([p])
            else:
                start, end, step, width = p
                choices.append([str(i).zfill(width) for i in range(start, end + 1, step)])
        for combo in itertools.product(*choices):
            yield "".join(combo)


def parse(text: str) -> Template:
    """Parse a template; malformed ranges are a BadRequest, never a silent partial match."""
    if text in ("", "*"):
        return Template("", ("",))
    parts: list[str | tuple[int, int, int, int]] = []
    pos = 0
    for m in _RANGE.finditer(text):
        parts.append(text[pos:m.start()])
        a, b, step = m.group(1), m.group(2), int(m.group(3) or 1)
        start, end = int(a), int(b)
        if step <= 0 or end < start:
            raise BadRequest(f"invalid range {m.group(0)!r} in template {text!r}")
        width = len(a) if a.startswith("0") and len(a) > 1 else 0
        parts.append((start, end, step, width))
        pos = m.end()
    tail = text[pos:]
    if "{" in tail or "}" in tail:
        raise BadRequest(f"malformed template {text!r} (expected PREFIX{{START..END[..STEP]}}SUFFIX)")
    parts.append(tail)
    t = Template(parts[0] if isinstance(parts[0], str) else "", tuple(parts))
    if t.count() > MAX_EXPANSION:
        raise BadRequest(f"template {text!r} expands to more than {MAX_EXPANSION} names")
    return t
