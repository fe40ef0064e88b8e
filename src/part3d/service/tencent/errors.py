"""Tencent Cloud API 3.0 errors as exception classes, each carrying its documented code."""

from __future__ import annotations

from part3d.errors import Part3DError


class TencentError(Part3DError):
    """An error answered with the API 3.0 error envelope: ``code`` and a one-line message."""

    code = "InternalError"


class InvalidAuthorization(TencentError):
    code = "AuthFailure.InvalidAuthorization"


class SignatureFailure(TencentError):
    code = "AuthFailure.SignatureFailure"


class MissingParameter(TencentError):
    code = "MissingParameter"


class InvalidParameter(TencentError):
    code = "InvalidParameter"


class InvalidParameterValue(TencentError):
    code = "InvalidParameterValue"


class UnknownParameter(TencentError):
    code = "UnknownParameter"


class UnsupportedProtocol(TencentError):
    code = "UnsupportedProtocol"


class RequestSizeLimitExceeded(TencentError):
    code = "RequestSizeLimitExceeded"


class NoSuchVersion(TencentError):
    code = "NoSuchVersion"


class InvalidAction(TencentError):
    code = "InvalidAction"


class SignatureExpire(TencentError):
    code = "AuthFailure.SignatureExpire"


class SecretIdNotFound(TencentError):
    code = "AuthFailure.SecretIdNotFound"


class TokenFailure(TencentError):
    code = "AuthFailure.TokenFailure"


class UnsupportedRegion(TencentError):
    code = "UnsupportedRegion"


class RequestLimitExceeded(TencentError):
    code = "RequestLimitExceeded"


class ResourceNotFound(TencentError):
    code = "ResourceNotFound"


class EngineServerLimitExceeded(TencentError):
    code = "FailedOperation.EngineServerLimitExceeded"


class InternalError(TencentError):
    code = "InternalError"
