"""Nested-dict helpers for settings addressed by dotted keys (`checksum.type=md5`)."""
from __future__ import annotations

import copy
import json
from typing import Any

from .errors import BadRequest


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, name + "."))
        else:
            out[name] = v
    return out


def coerce(old: Any, value: Any, key: str) -> Any:
    """Convert a (usually string) value to the type of the setting it replaces."""
    if isinstance(old, bool):
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("true", "1", "yes", "on", "enabled"):
            return True
        if s in ("false", "0", "no", "off", "disabled"):
            return False
        raise BadRequest(f"{key}: expected a boolean, got {value!r}")
    if isinstance(old, int):
        if isinstance(value, bool):
            raise BadRequest(f"{key}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise BadRequest(f"{key}: expected an integer, got {value!r}") from None
    if isinstance(old, str):
        if isinstance(value, (dict, list)):
            raise BadRequest(f"{key}: expected a string, got {json.dumps(value)}")
        return str(value)
    if isinstance(old, dict):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise BadRequest(f"{key}: expected a JSON object, got {value!r}") from None
        if not isinstance(value, dict):
            raise BadRequest(f"{key}: expected an object, got {value!r}")
        return value
    return value


def apply(doc: dict[str, Any], updates: dict[str, Any], *, readonly: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Return a copy of `doc` with dotted or nested `updates` applied; unknown keys are errors."""
    new = copy.deepcopy(doc)
    for key, value in updates.items():
        if isinstance(doc.get(key), dict):  # a whole section: merge key by key, never replace it wholesale
            value = coerce(doc[key], value, key)
            flat = {f"{key}.{k}": v for k, v in flatten(value).items()}
        else:
            flat = {key: value}
        for dkey, dval in flat.items():
            parts = dkey.split(".")
            if parts[0] in readonly or dkey in readonly:
                raise BadRequest(f"{dkey} is read-only")
            node = new
            for p in parts[:-1]:
                node = node.get(p) if isinstance(node, dict) else None
                if not isinstance(node, dict):
                    raise BadRequest(f"unknown setting {dkey!r}")
            if parts[-1] not in node:
                raise BadRequest(f"unknown setting {dkey!r}")
            node[parts[-1]] = coerce(node[parts[-1]], dval, dkey)
    return new


def get(doc: dict[str, Any], key: str) -> Any:
    """Value at a dotted key."""
    node: Any = doc
    for p in key.split("."):
        if not isinstance(node, dict) or p not in node:
            raise BadRequest(f"unknown setting {key!r}")
        node = node[p]
    return node
