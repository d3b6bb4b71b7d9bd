"""The S3 face: S3's REST API (path-style under `/s3` and `/`, virtual-hosted where configured)."""
from .face import S3Face

__all__ = ["S3Face"]
