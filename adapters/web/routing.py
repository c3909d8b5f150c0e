"""Routes of the web UI: one per path, HEAD answered as GET, refusals shown as pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.errors import NotFound, StorageUnavailable

Endpoint = Callable[[Request], Awaitable[Response]]


class PageError(Exception):
    """A refusal the browser gets as an error page with this status."""

    def __init__(
        self, status: int, title: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = dict(headers or {})


def not_found() -> PageError:
    """The page for a missing route or a task that does not exist or is someone else's."""
    return PageError(404, "Page not found", "There is nothing here. It may have been deleted.")


def forbidden() -> PageError:
    """The page for a form that was not sent from our own pages or lacks its CSRF token."""
    return PageError(
        403,
        "This form has expired",
        "The form was not sent from this site or its security token is missing or out of date. "
        "Go back, reload the page and try again.",
    )


def unavailable() -> PageError:
    """The page shown while the database cannot be reached."""
    return PageError(
        503,
        "Temporarily unavailable",
        "We cannot reach our storage right now. Please try again in a few seconds.",
        {"Retry-After": "5"},
    )


class Halt(Exception):
    """Stops an endpoint early with a ready response (e.g. a redirect to the sign-in page)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


ErrorRenderer = Callable[[Request, PageError], Response]


def page_route(path: str, on_error: ErrorRenderer, **endpoints: Endpoint) -> Route:
    """A route at `path` dispatching each method to its endpoint and rendering its refusals."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        try:
            return await endpoints[method](request)
        except Halt as halt:
            return halt.response
        except PageError as exc:
            return on_error(request, exc)
        except NotFound:
            return on_error(request, not_found())
        except StorageUnavailable:
            return on_error(request, unavailable())

    return Route(path, dispatch, methods=list(endpoints))
