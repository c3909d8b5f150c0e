"""Every error becomes exactly one status and code of SPEC §1, here and nowhere else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import attrs
import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from adapters.http.codes import ErrorCode
from adapters.http.style import Style
from domain import errors

RETRY_AFTER_SECONDS: Final = "5"
log = structlog.stdlib.get_logger("taskservice.http")


class ApiError(Exception):
    """An HTTP-level refusal that has no domain meaning (bad JSON, wrong media type, too large)."""

    status = 400
    code = ErrorCode.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    """The body is not a JSON object in UTF-8."""


class PayloadTooLarge(ApiError):
    """The body is over the limit."""

    status = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(ApiError):
    """The body is not of a media type this route accepts."""

    status = 415
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


@attrs.frozen
class _Mapping:
    status: int
    code: ErrorCode
    headers: Mapping[str, str] = attrs.field(factory=dict)


_DOMAIN: Final[dict[type[errors.DomainError], _Mapping]] = {
    errors.ValidationFailed: _Mapping(422, ErrorCode.VALIDATION_ERROR),
    errors.NotFound: _Mapping(404, ErrorCode.NOT_FOUND),
    errors.Forbidden: _Mapping(403, ErrorCode.FORBIDDEN),
    errors.PreconditionFailed: _Mapping(412, ErrorCode.PRECONDITION_FAILED),
    errors.Conflict: _Mapping(409, ErrorCode.CONFLICT),
    errors.SyncExpired: _Mapping(410, ErrorCode.SYNC_EXPIRED),
    errors.IdempotencyKeyReused: _Mapping(422, ErrorCode.IDEMPOTENCY_KEY_REUSED),
    errors.InvalidToken: _Mapping(
        401, ErrorCode.UNAUTHORIZED, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    ),
    errors.MissingToken: _Mapping(401, ErrorCode.UNAUTHORIZED, {"WWW-Authenticate": "Bearer"}),
    errors.InvalidCredentials: _Mapping(401, ErrorCode.INVALID_CREDENTIALS),
    errors.StorageUnavailable: _Mapping(
        503, ErrorCode.SERVICE_UNAVAILABLE, {"Retry-After": RETRY_AFTER_SECONDS}
    ),
}

_HTTP_CODES: Final = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}
_HTTP_MESSAGES: Final = {
    404: "No such resource.",
    405: "This method is not allowed on this resource.",
}


# Handlers are coroutines: Starlette runs a plain function in its thread pool, which cost an
# error answer (a 401, 404 or 422) a thread hand-off, more than the rest of the request.
Handler = Callable[[Request, Exception], Awaitable[Response]]


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(chain) < 5:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def exception_handlers(style: Style) -> dict[type[Exception], Handler]:
    """One handler per error class, looked up by Starlette along the exception's MRO."""

    def domain_handler(mapping: _Mapping) -> Handler:
        async def handle(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, errors.DomainError)
            details = None
            if isinstance(exc, errors.ValidationFailed):
                details = [attrs.asdict(d) for d in exc.details]
            return style.error(
                mapping.status, mapping.code, exc.message, headers=mapping.headers, details=details
            )

        return handle

    unavailable = domain_handler(_DOMAIN[errors.StorageUnavailable])

    async def storage_unavailable(request: Request, exc: Exception) -> Response:
        # Class names only: driver messages may quote statements, and operators need the kind of
        # failure (refused, timed out, pool exhausted), which the names tell.
        log.warning(
            "storage unavailable",
            causes=[type(e).__name__ for e in _causes(exc)],
            request_id=getattr(request.state, "request_id", None),
        )
        return await unavailable(request, exc)

    async def rate_limited(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.RateLimited)
        headers = {"Retry-After": str(exc.retry_after)}
        return style.error(429, ErrorCode.RATE_LIMITED, exc.message, headers=headers)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return style.error(exc.status, exc.code, exc.message)

    async def http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.BAD_REQUEST)
        message = _HTTP_MESSAGES.get(exc.status_code, exc.detail)
        return style.error(exc.status_code, code, message, headers=exc.headers)

    handlers: dict[type[Exception], Handler] = {
        cls: domain_handler(mapping) for cls, mapping in _DOMAIN.items()
    }
    handlers[errors.RateLimited] = rate_limited
    handlers[errors.StorageUnavailable] = storage_unavailable
    handlers[ApiError] = api_error
    handlers[HTTPException] = http_exception
    return handlers


def internal_error(style: Style) -> Response:
    """The 500 answer: it says nothing about internals."""
    return style.error(
        500, ErrorCode.INTERNAL_ERROR, "Something went wrong on our side; it has been logged."
    )
