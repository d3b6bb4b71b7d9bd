"""aisfs engine: buckets of objects on local mountpaths, one async API for every face."""
from .core import Engine
from .meta import ListEntry, ObjectMeta
from .objects import ObjectReader

__all__ = ["Engine", "ListEntry", "ObjectMeta", "ObjectReader"]
