"""The response styles of the JSON API: SPEC §1's envelope, and §11's plain bodies.

The operator picks one for the whole service (`API_STYLE`); every handler, every exception
handler and the OpenAPI document ask the style in force, so no handler exists twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Final
from urllib.parse import quote, urlencode

import attrs
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from adapters.http.codes import ErrorCode
from adapters.http.envelope import failure, render, success, success_body
from adapters.http.representation import list_query
from domain.queries import TaskQuery
from taskservice.services import FeedPage, TaskPage

Details = list[dict[str, str]] | None
PAGE_COUNT_HEADERS: Final = ("X-Total-Count", "X-Pending-Count", "X-Completed-Count")
"""The plain style's list counts: all of the user's tasks, then pending, then completed."""
FEED_HEADERS: Final = ("X-Feed-Cursor", "X-Feed-Has-More")
"""The plain style's feed page: the cursor after it, and whether more entries wait."""


@attrs.frozen
class Style:
    """How answers look on the wire; the envelope of SPEC §1 unless a subclass says otherwise."""

    name: ClassVar[str] = "envelope"
    # Whether the list also reads the parameter names of FastAPI-era frontends (SPEC §11).
    frontend_parameters: ClassVar[bool] = False

    def body(self, data: Any, message: str) -> bytes:
        """The bytes of a success answer carrying `data`."""
        return success_body(data, message)

    def resource(
        self,
        data: Any,
        message: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A success answer carrying one resource (a task, a user, a session, a probe)."""
        return Response(self.body(data, message), status, headers, media_type="application/json")

    async def stream(self, data: AsyncIterator[bytes], message: str) -> AsyncIterator[bytes]:
        """A success answer whose `data` is written in pieces, as they come."""
        yield b'{"data":'
        async for piece in data:
            yield piece
        yield b',"error":null,"message":' + render(message) + b"}"

    def page(
        self, items: list[dict[str, Any]], page: TaskPage, *, limit: int, request: Request
    ) -> Response:
        """A page of a list: its items, the next page's cursor and the owner's counts."""
        meta = {
            "limit": limit,
            "next_cursor": page.next_cursor,
            "counts": {"pending": page.counts.pending, "completed": page.counts.completed},
        }
        return success(items, f"{len(items)} task(s).", meta=meta)

    def feed(self, entries: list[dict[str, Any]], page: FeedPage, *, request: Request) -> Response:
        """A page of the change feed: its entries, the cursor after them, whether more wait."""
        meta = {"cursor": page.cursor, "has_more": page.has_more}
        return success(entries, f"{len(entries)} change(s).", meta=meta)

    def trash_page(
        self, items: list[dict[str, Any]], next_cursor: str | None, *, limit: int, request: Request
    ) -> Response:
        """A page of the trash: its entries and the next page's cursor (no counts)."""
        meta = {"limit": limit, "next_cursor": next_cursor}
        return success(items, f"{len(items)} deleted task(s).", meta=meta)

    def error(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        details: Details = None,
    ) -> Response:
        """A refusal with one of SPEC §1's codes and statuses."""
        return failure(status, code, message, headers=headers, details=details)

    def list_query(self, params: QueryParams) -> tuple[TaskQuery, str | None]:
        """The list query and cursor that the query string asks for."""
        return list_query(params, frontend_names=self.frontend_parameters)


@attrs.frozen
class Plain(Style):
    """SPEC §11: the resource itself, paging and counts in headers, errors under `detail`."""

    name: ClassVar[str] = "plain"
    frontend_parameters: ClassVar[bool] = True

    def body(self, data: Any, message: str) -> bytes:
        """The resource alone."""
        return render(data)

    async def stream(self, data: AsyncIterator[bytes], message: str) -> AsyncIterator[bytes]:
        """The resource alone, in pieces."""
        async for piece in data:
            yield piece

    def page(
        self, items: list[dict[str, Any]], page: TaskPage, *, limit: int, request: Request
    ) -> Response:
        """The array of tasks; `Link: rel="next"` and the counts travel as headers."""
        counts = page.counts
        values = (counts.pending + counts.completed, counts.pending, counts.completed)
        headers = {name: str(value) for name, value in zip(PAGE_COUNT_HEADERS, values, strict=True)}
        if page.next_cursor is not None:
            headers["Link"] = f'<{next_page_url(request, page.next_cursor)}>; rel="next"'
        return Response(render(items), 200, headers, media_type="application/json")

    def feed(self, entries: list[dict[str, Any]], page: FeedPage, *, request: Request) -> Response:
        """The array of entries; the cursor and whether more wait travel as headers, with
        `Link: rel="next"` while they do."""
        headers = {FEED_HEADERS[0]: page.cursor, FEED_HEADERS[1]: str(page.has_more).lower()}
        if page.has_more:
            headers["Link"] = f'<{next_page_url(request, page.cursor, "since")}>; rel="next"'
        return Response(render(entries), 200, headers, media_type="application/json")

    def trash_page(
        self, items: list[dict[str, Any]], next_cursor: str | None, *, limit: int, request: Request
    ) -> Response:
        """The array of entries; `Link: rel="next"` as for a page of tasks."""
        headers = {}
        if next_cursor is not None:
            headers["Link"] = f'<{next_page_url(request, next_cursor)}>; rel="next"'
        return Response(render(items), 200, headers, media_type="application/json")

    def error(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        details: Details = None,
    ) -> Response:
        """`{"detail": message, "error": CODE}`, plus `details` on validation failures."""
        body: dict[str, Any] = {"detail": message, "error": code}
        if details:
            # Frontends show `detail` as it is: the rules broken say more than that some were.
            body["detail"] = " ".join(d["message"] for d in details)
            body["details"] = details
        return Response(render(body), status, headers, media_type="application/json")


ENVELOPE: Final = Style()
PLAIN: Final = Plain()
STYLES: Final = {style.name: style for style in (ENVELOPE, PLAIN)}
"""Every style by the name `API_STYLE` gives it."""


def next_page_url(request: Request, cursor: str, name: str = "cursor") -> str:
    """The request's own absolute URL with the next page's cursor (parameter `name`) in place
    of its own."""
    # Absolute, as GitHub's are: a frontend on another origin may fetch it as it comes. The path
    # is quoted again (the scope holds it decoded), so that no user id can break the header.
    base = request.url
    query = [(k, v) for k, v in request.query_params.multi_items() if k != name]
    query.append((name, cursor))
    path = quote(request.scope["path"], safe="/")
    origin = f"{base.scheme}://{base.netloc}" if base.netloc else ""
    return f"{origin}{path}?{urlencode(query)}"
