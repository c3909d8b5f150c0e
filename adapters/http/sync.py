"""The change feed endpoint of SPEC §8."""

from __future__ import annotations

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import parsing
from adapters.http.representation import change_json, feed_query
from adapters.http.routing import by_method
from adapters.http.style import Style
from domain.policy import Action
from taskservice.ports import TokenVerifier
from taskservice.services import SyncUseCases


@attrs.frozen(kw_only=True)
class SyncApi:
    """The change feed, bound to its use case."""

    sync: SyncUseCases
    verifier: TokenVerifier
    style: Style

    def routes(self) -> list[Route]:
        """The routes of the feed."""
        return [by_method("/api/{user_id}/changes", GET=self.changes)]

    async def changes(self, request: Request) -> Response:
        """GET /api/{user_id}/changes: the entries after `since` (all, without it)."""
        caller = await parsing.caller(request, self.verifier, Action.READ)
        since, limit = feed_query(request.query_params)
        page = await self.sync.changes(caller, since, limit)
        entries = [change_json(change) for change in page.entries]
        return self.style.feed(entries, page, request=request)
