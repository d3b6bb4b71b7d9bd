"""S3-only error codes, in the engine's one hierarchy so the face maps every error in one place."""
from __future__ import annotations

from ...errors import AccessDenied, AisError, BadDigest, BadRequest, PreconditionFailed


class MalformedXML(BadRequest):
    code = "MalformedXML"


class InvalidRequest(BadRequest):
    code = "InvalidRequest"


class InvalidDigest(BadRequest):
    code = "InvalidDigest"


class MissingContentLength(AisError):
    status, code = 411, "MissingContentLength"


class ContentSHA256Mismatch(BadDigest):
    code = "XAmzContentSHA256Mismatch"


class SignatureDoesNotMatch(AccessDenied):
    code = "SignatureDoesNotMatch"


class InvalidAccessKeyId(AccessDenied):
    code = "InvalidAccessKeyId"


class RequestTimeTooSkewed(AccessDenied):
    code = "RequestTimeTooSkewed"


class AuthorizationHeaderMalformed(BadRequest):
    code = "AuthorizationHeaderMalformed"


class MethodNotAllowed(AisError):
    status, code = 405, "MethodNotAllowed"


class NotModified(AisError):
    """Not an error to the client: a conditional GET/HEAD answered 304 with no body."""

    status, code = 304, "NotModified"


__all__ = ["MalformedXML", "InvalidRequest", "InvalidDigest", "MissingContentLength", "ContentSHA256Mismatch",
           "SignatureDoesNotMatch", "InvalidAccessKeyId", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed",
           "MethodNotAllowed", "NotModified", "PreconditionFailed"]
