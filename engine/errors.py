"""The engine's one error hierarchy.

Every failure the engine reports is an `AisError` subclass with a stable `code`
(S3-flavoured, so the S3 face can use it directly) and an HTTP `status`. Each
face maps these once: REST to JSON `{"message","status"}`, S3 to XML codes,
FUSE to errno.
"""
from __future__ import annotations


class AisError(Exception):
    """Base of all engine errors."""

    status: int = 500
    code: str = "InternalError"

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details


# 4xx: the caller's input -------------------------------------------------------------
class BadRequest(AisError):
    status, code = 400, "InvalidArgument"


class InvalidBucketName(BadRequest):
    code = "InvalidBucketName"


class InvalidObjectName(BadRequest):
    code = "InvalidObjectName"


class KeyTooLong(InvalidObjectName):
    code = "KeyTooLongError"


class MalformedRequest(BadRequest):
    code = "MalformedRequest"


class BadDigest(BadRequest):
    """The checksum the client sent does not match the bytes it sent."""

    code = "BadDigest"


class IncompleteBody(BadRequest):
    code = "IncompleteBody"


class EntityTooLarge(BadRequest):
    code = "EntityTooLarge"


class AccessDenied(AisError):
    status, code = 403, "AccessDenied"


class NotFound(AisError):
    status, code = 404, "NotFound"


class BucketNotFound(NotFound):
    code = "NoSuchBucket"


class ObjectNotFound(NotFound):
    code = "NoSuchKey"


class VersionNotFound(NotFound):
    code = "NoSuchVersion"


class JobNotFound(NotFound):
    code = "NoSuchJob"


class Conflict(AisError):
    status, code = 409, "Conflict"


class BucketAlreadyExists(Conflict):
    code = "BucketAlreadyOwnedByYou"


class BucketNotEmpty(Conflict):
    code = "BucketNotEmpty"


class ObjectExists(Conflict):
    code = "ObjectAlreadyExists"


class PreconditionFailed(AisError):
    status, code = 412, "PreconditionFailed"


class RangeNotSatisfiable(AisError):
    status, code = 416, "InvalidRange"

    def __init__(self, message: str = "", *, size: int) -> None:
        super().__init__(message or f"requested range not satisfiable (object size {size})", size=size)
        self.size = size


# 5xx: the server's side ----------------------------------------------------------------
class ObjectCorrupted(AisError):
    """Stored bytes no longer match their checksum: never served."""

    status, code = 500, "ObjectCorrupted"


class NotImplementedYet(AisError):
    status, code = 501, "NotImplemented"


class MountpathUnavailable(AisError):
    status, code = 503, "MountpathUnavailable"


class OutOfSpace(AisError):
    status, code = 507, "InsufficientStorage"


class DataDirInUse(AisError):
    """A second process tried to open a data directory that is already open."""

    code = "DataDirInUse"


class DataDirFormat(AisError):
    """The data directory was written in a newer on-disk format than this aisfs knows."""

    code = "DataDirFormat"


class OwnerOnly(BaseException):
    """In a worker process (`aisfs serve --workers`): this request needs the data dir's owner, which a
    worker only reads. Not an AisError, and not an Exception, so no face turns it into an answer: the
    HTTP server hands the connection to the owner, which serves the request as if it had come there."""


def first_error(e: BaseException) -> BaseException:
    """Unwrap trio's exception groups down to the first leaf: what a nursery's one failing task raised."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e
