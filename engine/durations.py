"""Go-style durations ("2h", "120m", "30s", "1h30m") as AIStore writes them."""
from __future__ import annotations

import re

from .errors import BadRequest

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")


def parse(text: str) -> float:
    """Seconds in a duration string; a bare number means seconds."""
    s = str(text).strip()
    try:
        return float(s)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise BadRequest(f"invalid duration {text!r} (examples: 30s, 10m, 2h)")
    return total
