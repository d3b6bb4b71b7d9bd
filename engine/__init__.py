"""aisfs engine: buckets of objects on local mountpaths, one async API for every face.

Names load lazily, so `engine.errors` (which every command-line call needs) does not pull in
trio, SQLite and the whole store.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Engine
    from .meta import ListEntry, ObjectMeta
    from .objects import ObjectReader

__all__ = ["Engine", "ListEntry", "ObjectMeta", "ObjectReader"]
_HOME = {"Engine": "core", "ListEntry": "meta", "ObjectMeta": "meta", "ObjectReader": "objects"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        import importlib
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
