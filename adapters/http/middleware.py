"""Pure-ASGI middleware: request ids, one log line and metrics per request, and a 500 for bugs."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Final

import structlog
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.errors import internal_error
from adapters.http.metrics import Metrics
from adapters.http.style import ENVELOPE, PAGE_COUNT_HEADERS, Style

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}", re.ASCII)
# JSON is never a page: nothing in it may load, frame or be sniffed into HTML.
_API_SECURITY_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_NOSNIFF: Final = _API_SECURITY_HEADERS[:1]
# Two years, as preload lists ask; without includeSubDomains, which is not ours to promise.
_HSTS: Final = (b"strict-transport-security", b"max-age=63072000")
# Set by this middleware whatever the app said.
_OURS: Final = frozenset({b"x-request-id"})
_OURS_ON_API: Final = frozenset({b"x-request-id", b"cache-control"})
_LOGGER: Final = "taskservice.http"
log = structlog.stdlib.get_logger(_LOGGER)
# The stdlib logger under `log`, asked for its level directly (structlog's proxy re-binds itself
# for every attribute it does not cache: 8,500 instructions a question, against 1,400).
_level_of_log = logging.getLogger(_LOGGER)


class RequestContextMiddleware:
    """Adds X-Request-ID, HSTS and /api's headers; logs, measures, and answers 500 for crashes."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics | None = None, style: Style = ENVELOPE
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.style = style

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        sent = _header(scope, b"x-request-id")
        request_id = sent if _SANE_REQUEST_ID.fullmatch(sent) else secrets.token_hex(16)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        api = scope["path"].startswith("/api/")
        # uvicorn sets the scheme from X-Forwarded-Proto when a listed proxy sent it.
        https = scope.get("scheme") == "https"
        status = 500
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = _with_our_headers(
                    message.get("headers", ()), request_id, api, https
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # The route's template, never the path: a path may carry a secret (an invite code).
            log.exception("unhandled error", request_id=request_id, route=_route(scope))
            if started:
                raise
            await internal_error(self.style)(scope, receive, send_with_headers)
        finally:
            self._record(scope, status, time.perf_counter() - started_at)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = _route(scope)
        # Asked first: below its level a structlog call still builds the event and drops it by
        # raising (39,000 instructions a call, by callgrind).
        if _level_of_log.isEnabledFor(logging.INFO):
            state = scope["state"]
            log.info(
                "request",
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 2),
                request_id=state["request_id"],
                user_id=state.get("user_id"),
            )
        if self.metrics is not None:
            self.metrics.observe(scope["method"], route, status, seconds)


def _route(scope: Scope) -> str:
    """The template of the route that answered (`/api/{user_id}/tasks/{id}`), never the path."""
    return getattr(scope.get("route"), "path", None) or "<unmatched>"


def _header(scope: Scope, name: bytes) -> str:
    # ASGI servers give header names in lower case; the raw list spares building a Headers.
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _with_our_headers(
    raw: Iterable[tuple[bytes, bytes]], request_id: str, api: bool, https: bool
) -> list[tuple[bytes, bytes]]:
    # On the raw ASGI header list (names are lower-case there): this runs on every response.
    ours = _OURS_ON_API if api else _OURS
    headers = [(name, value) for name, value in raw if name not in ours]
    headers.append((b"x-request-id", request_id.encode("latin-1")))
    if api:
        headers.append((b"cache-control", b"no-store"))
    present = {name for name, _ in headers}
    headers += [h for h in (_API_SECURITY_HEADERS if api else _NOSNIFF) if h[0] not in present]
    if https and _HSTS[0] not in present:
        headers.append(_HSTS)
    return headers


class ExactOriginCors(CORSMiddleware):
    """Starlette's CORS, except that an origin not listed gets no CORS header at all."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass requests from unlisted origins straight to the app, as if CORS were off."""
        if scope["type"] == "http":
            origin = Headers(scope=scope).get("origin")
            if origin is not None and not self.is_allowed_origin(origin):
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def cors(origins: Sequence[str]) -> Middleware:
    """CORS for exactly these origins, with credentials; never a wildcard."""
    return Middleware(
        ExactOriginCors,
        allow_origins=list(origins),
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
            "Last-Event-ID",
            "X-Request-ID",
        ],
        expose_headers=[
            "ETag",
            "Location",
            "Retry-After",
            "X-Request-ID",
            "Idempotent-Replayed",
            # The paging and counts of the plain style (SPEC §11).
            "Link",
            *PAGE_COUNT_HEADERS,
        ],
        max_age=600,
    )
