"""Bucket metadata (AIStore's BMD): every bucket's props in one versioned JSON document."""
from __future__ import annotations

import copy
import secrets
import time
from pathlib import Path
from typing import Any, Callable

from . import jsonfile

BMD_FILE = "bmd.json"


class BMD:
    """Buckets by name; each save is atomic, so a crash never leaves it half-written."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / BMD_FILE
        self.saved: Callable[[], None] = lambda: None   # the owner tells worker processes (generation.py)
        self.reload()

    def reload(self) -> None:
        """Read the document again (a worker process, after the owner saved it)."""
        doc = jsonfile.load(self._path) or {"version": 0, "buckets": {}}
        self.version: int = doc["version"]
        self.uuid: str = doc.get("uuid", "")
        self.buckets: dict[str, dict[str, Any]] = doc["buckets"]

    def _save(self) -> None:
        self.version += 1
        jsonfile.save(self._path, {"version": self.version, "uuid": self.uuid, "buckets": self.buckets})
        self.saved()

    def ensure_uuid(self) -> None:
        """The cluster's UUID, made at the owner's first start and kept: AIStore's cluster map and BMD carry
        one, and its SDK's `Cluster.get_uuid()` reads it."""
        if not self.uuid:
            self.uuid = secrets.token_hex(6)
            self._save()

    def get(self, name: str) -> dict[str, Any] | None:
        return self.buckets.get(name)

    def add(self, name: str, props: dict[str, Any]) -> dict[str, Any]:
        props = copy.deepcopy(props)
        props["created"] = str(time.time_ns())
        props["bid"] = secrets.token_hex(8)
        self.buckets[name] = props
        self._save()
        return props

    def put(self, name: str, props: dict[str, Any]) -> None:
        self.buckets[name] = copy.deepcopy(props)
        self._save()

    def remove(self, name: str) -> dict[str, Any]:
        props = self.buckets.pop(name)
        self._save()
        return props

    def rename(self, old: str, new: str) -> None:
        self.buckets[new] = self.buckets.pop(old)
        self._save()
