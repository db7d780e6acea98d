"""Domain errors. Each carries its HTTP status and machine-readable code.

They derive from Chalice's `ChaliceUnhandledError` only because that is the one exception
family Chalice lets through a view to the middleware, where all errors become responses in
one place (chalicelib/entrypoints/middleware.py). Nothing here does I/O.
"""

from __future__ import annotations

from typing import Any

from chalice.app import ChaliceUnhandledError

from chalicelib.core.codes import Code


class FissionError(ChaliceUnhandledError):
    status = 400
    code: str = Code.BAD_REQUEST

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(FissionError):
    status = 400
    code: str = Code.BAD_REQUEST


class InvalidJson(FissionError):
    status = 400
    code: str = Code.INVALID_JSON


class ValidationFailed(FissionError):
    status = 422
    code: str = Code.VALIDATION_ERROR


class Unauthorized(FissionError):
    status = 401
    code: str = Code.UNAUTHORIZED


class Forbidden(FissionError):
    status = 403
    code: str = Code.FORBIDDEN


class NotFound(FissionError):
    status = 404
    code: str = Code.NOT_FOUND


class NotAcceptable(FissionError):
    status = 406
    code: str = Code.NOT_ACCEPTABLE


class Conflict(FissionError):
    status = 409
    code: str = Code.CONFLICT


class Gone(FissionError):
    status = 410
    code: str = Code.GONE


class PayloadTooLarge(FissionError):
    status = 413
    code: str = Code.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(FissionError):
    status = 415
    code: str = Code.UNSUPPORTED_MEDIA_TYPE


class TooManyRequests(FissionError):
    """429; with `retry_after`, a `Retry-After` header (the errors middleware adds `headers` to the response)
    and the same seconds in `details.retry_after`, for clients that read only the body."""

    status = 429
    code: str = Code.RATE_LIMITED

    def __init__(
        self,
        message: str,
        *,
        retry_after: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if retry_after is not None:
            details = {**(details or {}), "retry_after": retry_after}
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}


class Unavailable(FissionError):
    status = 503
    code: str = Code.UNAVAILABLE
