"""GET /api/{user_id}/events (SPEC §8): the change feed as Server-Sent Events, live."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Final

import attrs
import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import parsing
from adapters.http.representation import change_json, unknown_parameters
from adapters.http.routing import by_method
from domain.errors import FieldError, InvalidToken, MissingToken, ValidationFailed
from domain.policy import Action
from domain.types import UserId
from domain.users import Caller, Principal
from taskservice.ports import MAX_TOKEN_LENGTH, TokenVerifier
from taskservice.services.live import Event, Item, LiveEvents

PARAMETERS: Final = frozenset({"since"})
RECHECK_EVERY: Final = 1.0
"""Seconds between two checks of a stream's token while events flow."""
_SAME_ORIGIN: Final = frozenset({"same-origin", "none"})


@attrs.frozen(kw_only=True)
class EventsApi:
    """The live events stream, for a bearer token or the web UI's session cookie."""

    live: LiveEvents
    verifier: TokenVerifier
    session_cookie: str | None = None
    """The web UI's session cookie (a bearer token), accepted from the same origin only."""

    def routes(self) -> list[Route]:
        """The route of the stream."""
        return [by_method("/api/{user_id}/events", GET=self.stream)]

    async def stream(self, request: Request) -> Response:
        """GET /api/{user_id}/events: every feed entry after the cursor, then each as it comes."""
        principal, token = await self._principal(request)
        caller = Caller(principal=principal, owner=UserId(request.path_params["user_id"]))
        caller.authorize(Action.READ)
        query = request.query_params
        errors = unknown_parameters(set(query) - PARAMETERS)
        if query.get("since") == "":
            errors.append(FieldError(field="since", code="invalid", message="The cursor is empty."))
        if errors:
            raise ValidationFailed(errors)
        # A browser reconnecting sends the URL it first opened (with its `since`) and the id
        # of the last event it received, which is the later of the two.
        since = request.headers.get("last-event-id") or query.get("since") or None
        items = await self.live.open(caller, since)

        async def still_valid() -> bool:
            try:
                await self.verifier.verify(token)
            except InvalidToken:
                return False
            return True

        return EventSourceResponse(
            _frames(items, still_valid),
            # The stream sends its own heartbeats, which also re-read the feed.
            ping=0,
            headers={"X-Accel-Buffering": "no"},
            sep="\n",
        )

    async def _principal(self, request: Request) -> tuple[Principal, str]:
        if "authorization" in request.headers or self.session_cookie is None:
            bearer = parsing.bearer_token(request)
            return await parsing.authenticated(request, self.verifier), bearer
        token = request.cookies.get(self.session_cookie)
        if not token or not _same_origin(request):
            raise MissingToken()
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The access token is too large.")
        principal = await self.verifier.verify(token)
        if not principal.signed_in:
            # As in the web UI: a personal access token planted in a cookie signs nobody in.
            raise InvalidToken("The session cookie holds no sign-in.")
        request.state.user_id = principal.user_id
        return principal, token


def _same_origin(request: Request) -> bool:
    # The cookie is SameSite=Lax, which a sibling subdomain still receives: the browser says
    # where the request comes from, and only this origin's pages may stream with the cookie.
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in _SAME_ORIGIN:
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def _frames(
    items: AsyncGenerator[Item, None], still_valid: Callable[[], Awaitable[bool]]
) -> AsyncIterator[ServerSentEvent]:
    # A token that expires or is revoked (sign-out everywhere) ends the stream: checked at
    # every heartbeat, and before an event once RECHECK_EVERY has passed since the last check.
    checked = time.monotonic()
    try:
        async for item in items:
            now = time.monotonic()
            if not isinstance(item, Event) or now - checked >= RECHECK_EVERY:
                if not await still_valid():
                    return
                checked = now
            if isinstance(item, Event):
                data = orjson.dumps(change_json(item.entry)).decode()
                yield ServerSentEvent(data=data, event="change", id=item.cursor)
            else:
                yield ServerSentEvent(comment="ping")
    finally:
        await items.aclose()
