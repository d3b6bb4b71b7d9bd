"""Cluster configuration: AIStore's defaults, persisted and versioned, set by dotted keys."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

from . import dotted, durations, jsonfile
from .checksum import CKSUM_TYPES
from .errors import BadRequest

DEFAULTS: dict[str, Any] = {
    "checksum": {"type": "xxhash", "validate_cold_get": True, "validate_warm_get": False},
    "versioning": {"enabled": True, "validate_warm_get": False, "s3": ""},  # s3: ""/Enabled/Suspended (docs/s3.md)
    "space": {"cleanupwm": 65, "lowwm": 75, "highwm": 90, "out_of_space": 95},
    "lru": {"enabled": False, "dont_evict_time": "2h", "capacity_upd_time": "10m"},
    "mirror": {"enabled": False, "copies": 2, "burst_buffer": 512},
    "ec": {"enabled": False, "data_slices": 2, "parity_slices": 2, "objsize_limit": 262144, "compression": "never"},
    "write_policy": {"fsync": True},
    "timeout": {"max_keepalive": "60s", "request_header": "30s", "request_body_idle": "60s"},
    "net": {"max_header_size": 65536, "max_json_body": 16777216},
    "s3": {"default_checksum": "md5", "region": "us-east-1", "virtual_host_domain": "", "keys": {}},
}

CONFIG_FILE = "config.json"


def validate(doc: dict[str, Any]) -> None:
    """Reject settings AIStore would reject (watermark order, checksum type, durations)."""
    sp = doc["space"]
    if not 0 < sp["cleanupwm"] <= sp["lowwm"] <= sp["highwm"] <= sp["out_of_space"] <= 100:
        raise BadRequest("space watermarks must satisfy 0 < cleanupwm <= lowwm <= highwm <= out_of_space <= 100")
    if doc["checksum"]["type"] not in CKSUM_TYPES:
        raise BadRequest(f"checksum.type must be one of {', '.join(CKSUM_TYPES)}")
    if doc["s3"]["default_checksum"] not in CKSUM_TYPES:
        raise BadRequest(f"s3.default_checksum must be one of {', '.join(CKSUM_TYPES)}")
    for key in ("lru.dont_evict_time", "lru.capacity_upd_time", "timeout.max_keepalive",
                "timeout.request_header", "timeout.request_body_idle"):
        if durations.parse(dotted.get(doc, key)) <= 0 and key.startswith("timeout."):
            raise BadRequest(f"{key} must be a positive duration")
    if doc["net"]["max_header_size"] < 4096 or doc["net"]["max_json_body"] < 1024:
        raise BadRequest("net.max_header_size must be at least 4096 and net.max_json_body at least 1024 bytes")
    if doc["mirror"]["copies"] < 1:
        raise BadRequest("mirror.copies must be at least 1")


def _merged(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored settings over the defaults, so a newer release's new keys appear with defaults."""
    doc = copy.deepcopy(DEFAULTS)
    for section, values in stored.items():
        if isinstance(values, dict) and isinstance(doc.get(section), dict):
            doc[section].update(values)
    return doc


class ClusterConfig:
    """The persisted cluster config; every change bumps `version`."""

    def __init__(self, data_dir: Path, *, owner: bool = True) -> None:
        self._path = data_dir / CONFIG_FILE
        self.saved: Callable[[], None] = lambda: None   # the owner tells worker processes (generation.py)
        self.reload()
        if not owner:  # a worker process: it reads what the owner wrote, and never writes
            return
        if self.version == 0:
            self.version = 1
            self._save()
        else:
            self._path.chmod(0o600)  # a config saved by an earlier build was world-readable

    def reload(self) -> None:
        """Read the stored config again (a worker process, after the owner saved it)."""
        stored = jsonfile.load(self._path) or {}
        self.version: int = int(stored.pop("version", 0))
        self.doc = _merged(stored)

    def _save(self) -> None:
        # private: it holds the S3 secret keys, which SigV4 needs in the clear
        jsonfile.save(self._path, {**self.doc, "version": self.version}, private=True)
        self.saved()

    def snapshot(self) -> dict[str, Any]:
        """A copy of the whole config with its version."""
        return {**copy.deepcopy(self.doc), "version": self.version}

    def get(self, key: str) -> Any:
        return dotted.get(self.doc, key)

    def update(self, updates: dict[str, Any], check: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Apply dotted or nested updates atomically; invalid input (or what `check` refuses) leaves the
        config untouched."""
        new = dotted.apply(self.doc, updates)
        validate(new)
        if check is not None:
            check(new)
        self.doc = new
        self.version += 1
        self._save()
        return self.snapshot()
