"""Assembles the Starlette application of the JSON API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path

import attrs
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from adapters.http.accounts import AccountApi
from adapters.http.docs import docs_routes
from adapters.http.errors import exception_handlers
from adapters.http.events import EventsApi
from adapters.http.health import HealthApi
from adapters.http.identity import IdentityApi
from adapters.http.lists import ListApi
from adapters.http.metrics import Metrics, PoolStats
from adapters.http.middleware import RequestContextMiddleware, cors
from adapters.http.style import STYLES
from adapters.http.sync import SyncApi
from adapters.http.tasks import TaskApi
from adapters.http.trash import TrashApi
from taskservice.ports import Readiness
from taskservice.services import UseCases


@attrs.frozen(kw_only=True)
class ApiDependencies:
    """The use cases the JSON API drives, and what its probes and metrics read."""

    use_cases: UseCases
    readiness: Readiness
    pool_stats: PoolStats | None = None
    api_style: str = "envelope"
    metrics_token: str | None = attrs.field(default=None, repr=False)
    metrics_dir: Path | None = None
    """Where several worker processes add up their metrics; None: this process alone."""
    session_cookie: str | None = None
    """The web UI's session cookie, which the live events stream also accepts (same origin)."""


Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def create_app(
    deps: ApiDependencies,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    extra_middleware: Sequence[Middleware] = (),
    cors_origins: Sequence[str] = (),
    lifespan: Lifespan | None = None,
) -> Starlette:
    """The whole ASGI app: API routes, probes, and whatever other driving adapters add."""
    metrics = Metrics(deps.pool_stats, deps.metrics_dir)
    style = STYLES[deps.api_style]
    use_cases = deps.use_cases
    verifier = use_cases.sessions
    identity = IdentityApi(
        accounts=use_cases.accounts,
        personal_tokens=use_cases.personal_tokens,
        your_data=use_cases.your_data,
        verifier=verifier,
        style=style,
    )
    routes: list[BaseRoute] = [
        *TaskApi(tasks=use_cases.tasks, verifier=verifier, style=style).routes(),
        *ListApi(lists=use_cases.lists, verifier=verifier, style=style).routes(),
        *SyncApi(sync=use_cases.sync, verifier=verifier, style=style).routes(),
        *TrashApi(trash=use_cases.trash, verifier=verifier, style=style).routes(),
        *AccountApi(
            accounts=use_cases.accounts, verifier=verifier, style=style, delete=identity.delete_me
        ).routes(),
        *identity.routes(),
        *EventsApi(
            live=use_cases.live, verifier=verifier, session_cookie=deps.session_cookie
        ).routes(),
        *HealthApi(readiness=deps.readiness, style=style).routes(),
        metrics.route(deps.metrics_token),
        *docs_routes(style),
        *extra_routes,
    ]
    middleware = [Middleware(RequestContextMiddleware, metrics=metrics, style=style)]
    if cors_origins:
        middleware.append(cors(cors_origins))
    app = Starlette(
        routes=routes,
        middleware=[*middleware, *extra_middleware],
        exception_handlers=exception_handlers(style),
        lifespan=_with_metrics(metrics, lifespan),
    )
    app.router.redirect_slashes = False
    return app


def _with_metrics(metrics: Metrics, lifespan: Lifespan | None) -> Lifespan:
    # Inside the caller's lifespan: the metrics stop before the resources they read are closed.
    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        async with lifespan(app) if lifespan else nullcontext(), metrics.publishing():
            yield

    return run
