"""The one map from the engine's error hierarchy to errno, used by every FUSE op."""
from __future__ import annotations

import errno
import functools
import logging
from typing import Any, Awaitable, Callable, TypeVar

import pyfuse3
import trio

from engine import errors as E

log = logging.getLogger("aisfs.fuse")

# Most specific first: the first isinstance match wins.
_MAP: list[tuple[type[BaseException], int]] = [
    (E.BucketNotFound, errno.ENOENT),
    (E.ObjectNotFound, errno.ENOENT),
    (E.VersionNotFound, errno.ENOENT),
    (E.NotFound, errno.ENOENT),
    (E.AccessDenied, errno.EACCES),
    (E.OutOfSpace, errno.ENOSPC),
    (E.BucketNotEmpty, errno.ENOTEMPTY),
    (E.BucketAlreadyExists, errno.EEXIST),
    (E.ObjectExists, errno.EEXIST),
    (E.Conflict, errno.EEXIST),
    (E.KeyTooLong, errno.ENAMETOOLONG),
    (E.InvalidBucketName, errno.EINVAL),
    (E.InvalidObjectName, errno.EINVAL),
    (E.EntityTooLarge, errno.EFBIG),
    (E.BadRequest, errno.EINVAL),
    (E.PreconditionFailed, errno.ESTALE),
    (E.NotImplementedYet, errno.ENOTSUP),
    (E.ObjectCorrupted, errno.EIO),
    (E.MountpathUnavailable, errno.EIO),
    (E.AisError, errno.EIO),
]


def to_errno(exc: BaseException) -> int:
    """errno for any exception an op can raise; unknown failures are EIO (and logged by the caller)."""
    if isinstance(exc, pyfuse3.FUSEError):
        return exc.errno
    for cls, code in _MAP:
        if isinstance(exc, cls):
            return code
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    return errno.EIO


def fail(code: int) -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(code)


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def fuse_op(fn: F) -> F:
    """Turn every exception into a FUSEError: anything else escaping a handler would end pyfuse3.main."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kw: Any) -> Any:
        try:
            return await fn(*args, **kw)
        except pyfuse3.FUSEError:
            raise
        except (trio.Cancelled, KeyboardInterrupt):
            raise
        except Exception as e:
            code = to_errno(e)
            if code == errno.EIO:
                log.exception("%s failed", fn.__name__)
            else:
                log.debug("%s: %s -> %s", fn.__name__, e, errno.errorcode.get(code, code))
            raise pyfuse3.FUSEError(code) from None

    return wrapper  # type: ignore[return-value]
