"""One route per path, so that a 405 lists every method the path allows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def by_method(path: str, **endpoints: Endpoint) -> Route:
    """A route at `path` dispatching each HTTP method to its endpoint."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return Route(path, dispatch, methods=list(endpoints))
