"""Routes of the web UI: one per path, HEAD answered as GET, refusals shown as pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    StorageUnavailable,
    ValidationFailed,
)

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


def list_gone() -> PageError:
    """The page for a list that does not exist or that the visitor is no member of (alike)."""
    return PageError(
        404, "List not found", "This list does not exist, or you are not a member of it (any more)."
    )


def forbidden() -> PageError:
    """The page for a form that was not sent from our own pages or lacks its CSRF token."""
    return PageError(
        403,
        "This form has expired",
        "The form was not sent from this site or its security token is missing or out of date. "
        "Go back, reload the page and try again.",
    )


def not_allowed(message: str) -> PageError:
    """The page for an action the visitor's role in a list does not permit (a forged form)."""
    return PageError(403, "Not allowed", message)


def conflict(message: str) -> PageError:
    """The page for an action the state of things refuses (e.g. deleting the default list)."""
    return PageError(409, "This cannot be done", message)


def unprocessable(error: ValidationFailed) -> PageError:
    """The page for a form no page of ours sends (the forms prevent every broken rule)."""
    details = " ".join(detail.message for detail in error.details)
    return PageError(422, "This cannot be done", details or error.message)


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
        # The refusals an endpoint does not turn into a page of its own.
        except Forbidden as exc:
            return on_error(request, not_allowed(exc.message))
        except (Conflict, PreconditionFailed) as exc:
            return on_error(request, conflict(exc.message))
        except ValidationFailed as exc:
            return on_error(request, unprocessable(exc))
        except StorageUnavailable:
            return on_error(request, unavailable())

    return Route(path, dispatch, methods=list(endpoints))
