"""Bucket properties (AIStore's `Bprops`): defaults inherited from the cluster config, access mask."""
from __future__ import annotations

import copy
import functools
from typing import Any

from . import dotted, durations
from .checksum import CKSUM_TYPES
from .errors import AccessDenied, BadRequest

# Access bits, as in the seed's table (AIStore's bucket access attributes).
ACCESS_GET = 0x1
ACCESS_HEAD = 0x2
ACCESS_PUT = 0x4
ACCESS_COLD_GET = 0x8
ACCESS_DELETE = 0x10
ACCESS_ALL = (1 << 64) - 1
ACCESS_RO = ACCESS_ALL ^ (ACCESS_PUT | ACCESS_COLD_GET | ACCESS_DELETE)  # 18446744073709551587
ACCESS_NAMES = {ACCESS_GET: "GET", ACCESS_HEAD: "HEAD", ACCESS_PUT: "PUT", ACCESS_COLD_GET: "cold GET",
                ACCESS_DELETE: "DELETE"}

INHERITED = ("checksum", "versioning", "lru", "mirror", "ec")
READONLY = frozenset({"provider", "created", "bid"})


def parse_access(value: Any) -> str:
    """Accept `ro`, `rw`, a decimal or 0x-hex mask; store AIStore's decimal string."""
    s = str(value).strip().lower()
    if s == "ro":
        return str(ACCESS_RO)
    if s in ("rw", "", "0"):  # AIStore historically used 0 for "full access"
        return str(ACCESS_ALL)
    try:
        mask = int(s, 16) if s.startswith("0x") else int(s)
    except ValueError:
        raise BadRequest(f"access: expected 'ro', 'rw' or a 64-bit mask, got {value!r}") from None
    if not 0 <= mask <= ACCESS_ALL:
        raise BadRequest("access: mask out of the 64-bit range")
    return str(mask)


@functools.lru_cache(maxsize=256)
def _mask(access: str) -> int:
    return int(access)


def check_access(props: dict[str, Any], bit: int, bucket: str) -> None:
    """Raise AccessDenied unless the bucket's access mask allows the operation `bit`."""
    if not _mask(props["access"]) & bit:
        raise AccessDenied(f"bucket {bucket!r} does not allow {ACCESS_NAMES.get(bit, hex(bit))} (access={props['access']})")


def defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Props a new bucket starts with: the cluster's sections it inherits, full access, no backend."""
    props: dict[str, Any] = {k: copy.deepcopy(config[k]) for k in INHERITED}
    props["lru"] = {k: v for k, v in props["lru"].items() if k in ("enabled", "dont_evict_time")}
    props.update(provider="ais", access=str(ACCESS_ALL), backend_bck={"name": "", "provider": ""},
                 created="", bid="")
    return props


def apply(props: dict[str, Any], updates: dict[str, Any], *, allow_readonly: bool = False) -> dict[str, Any]:
    """Apply dotted or nested updates with validation; raises BadRequest and leaves `props` alone."""
    updates = dict(updates)
    if "access" in updates:
        updates["access"] = parse_access(updates["access"])
    if "backend_bck" in updates:
        updates["backend_bck"] = _parse_backend(updates["backend_bck"])
        backend = updates.pop("backend_bck")
    else:
        backend = None
    new = dotted.apply(props, updates, readonly=frozenset() if allow_readonly else READONLY)
    if backend is not None:
        new["backend_bck"] = backend
    validate(new)
    return new


def _parse_backend(value: Any) -> dict[str, str]:
    """`s3://b`, `ais://@remote/b`, `none`, or `{"name","provider"}`."""
    if isinstance(value, dict):
        return {"name": str(value.get("name", "")), "provider": str(value.get("provider", ""))}
    s = str(value).strip()
    if s in ("", "none"):
        return {"name": "", "provider": ""}
    if "://" not in s:
        raise BadRequest(f"backend_bck: expected PROVIDER://BUCKET or 'none', got {value!r}")
    provider, name = s.split("://", 1)
    return {"name": name.strip("/"), "provider": provider}


def validate(props: dict[str, Any]) -> None:
    if props["checksum"]["type"] not in CKSUM_TYPES:
        raise BadRequest(f"checksum.type must be one of {', '.join(CKSUM_TYPES)}")
    durations.parse(props["lru"]["dont_evict_time"])
    if props["mirror"]["copies"] < 1:
        raise BadRequest("mirror.copies must be at least 1")
    if props["ec"]["enabled"]:
        ec = props["ec"]
        raise BadRequest(f"ec.enabled: erasure coding puts each of its {ec['data_slices']} data and "
                         f"{ec['parity_slices']} parity slices on a different storage target, and aisfs is one "
                         "target; for redundancy across this node's disks use mirror.enabled with mirror.copies")
    if props["backend_bck"]["provider"]:
        raise BadRequest("remote backends (backend_bck) are not yet supported")
