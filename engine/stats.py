"""Engine counters (AIStore's `get.n`, `put.size`, ...), shown by /v1/daemon?what=stats."""
from __future__ import annotations

from collections import Counter


class Stats:
    def __init__(self) -> None:
        self._c: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        self._c[name] += n

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self._c.items()))

    def take(self) -> dict[str, int]:
        """The counters since the last take, cleared (a worker process sends them to the owner)."""
        taken, self._c = dict(self._c), Counter()
        return taken
