"""Every error Loopsy raises on purpose, in one tree.

::

    LoopsyError                      base; ``message`` and an optional ``hint`` for humans
     ├── ConfigError                 config.yaml missing, malformed, or a wrong key/type
     ├── DaemonNotRunning            no daemon answers on the socket or port
     ├── ProtocolError               a frame or message that does not decode (wire bytes)
     │    └── ChannelError           E2E channel: bad MAC, replay, wrong key, bad handshake
     └── ApiError                    an error the daemon answered with (status + code)
          ├── BadRequest             400 bad_request
          ├── Unauthorized           401 unauthorized
          ├── Forbidden              403 forbidden
          ├── NotFound               404 not_found
          ├── Conflict               409 conflict
          ├── PayloadTooLarge        413 too_large
          ├── ValidationFailed       422 invalid
          ├── RateLimited            429 rate_limited   (``retry_after`` seconds)
          ├── InternalError          500 internal
          └── Unavailable            503 unavailable

The daemon renders an ``ApiError`` as ``{"error": {"code", "message", "hint"}}`` with its
status; the client turns that body back into the same class with :func:`api_error_from`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LoopsyError(Exception):
    """Base of every error Loopsy raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(LoopsyError):
    """The configuration is missing, malformed, or has an unknown key or a wrong type."""


class DaemonNotRunning(LoopsyError):
    """No daemon answers on the unix socket or TCP port."""


class ProtocolError(LoopsyError):
    """Bytes on the wire that do not decode as the protocol says."""


class ChannelError(ProtocolError):
    """The end-to-end channel refused a message: bad MAC, replay, wrong key, bad handshake."""


class ApiError(LoopsyError):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(
        self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            error["hint"] = self.hint
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "too_large"


class ValidationFailed(ApiError):
    status = 422
    code = "invalid"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, details={"retry_after": retry_after})
        self.retry_after = retry_after


class InternalError(ApiError):
    status = 500
    code = "internal"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"


_BY_CODE: dict[str, type[ApiError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        ValidationFailed,
        RateLimited,
        InternalError,
        Unavailable,
    )
}


def api_error_from(status: int, body: Any) -> ApiError:
    """Rebuild the daemon's error from an HTTP status and its JSON body (or anything else)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        cls = next((c for c in _BY_CODE.values() if c.status == status), InternalError)
        return cls(f"HTTP {status}")
    code = str(error.get("code", ""))
    message = str(error.get("message", f"HTTP {status}"))
    hint = error.get("hint")
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    cls = _BY_CODE.get(code) or next(
        (c for c in _BY_CODE.values() if c.status == status), InternalError
    )
    if cls is RateLimited:
        retry = details.get("retry_after", 1.0) if details else 1.0
        return RateLimited(message, retry_after=float(retry), hint=hint)
    return cls(message, hint=hint if isinstance(hint, str) else None, details=details)


def api_error_from_close(code: int, reason: str) -> ApiError | None:
    """The error a WebSocket close code stands for (``4000 + HTTP status``), or None for
    a normal end: 1000, 1001 (going away) and 1012 (the daemon stopping or restarting)."""
    if 4000 <= code < 5000:
        status = code - 4000
        return api_error_from(status, {"error": {"message": reason or f"HTTP {status}"}})
    if code in (1000, 1001, 1012):
        return None
    return InternalError(f"the connection closed with code {code} {reason}".strip())
