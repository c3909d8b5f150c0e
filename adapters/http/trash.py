"""The trash endpoints of SPEC §8: a page of deleted tasks, restore, purge one, empty."""

from __future__ import annotations

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import parsing
from adapters.http.representation import task_json, trash_query, trashed_json
from adapters.http.routing import by_method
from adapters.http.style import Style
from domain.policy import TRASH_ACTION, Action
from domain.types import TaskId
from domain.users import Caller
from taskservice.ports import TokenVerifier
from taskservice.services import TrashUseCases


@attrs.frozen(kw_only=True)
class TrashApi:
    """The trash endpoints, bound to the trash use cases.

    Only the page reads query parameters (`limit`, `cursor`); any other, or any on the others,
    is a 422.
    """

    trash: TrashUseCases
    verifier: TokenVerifier
    style: Style

    def routes(self) -> list[Route]:
        """The routes of the trash API."""
        return [
            by_method("/api/{user_id}/trash", GET=self.index, DELETE=self.empty),
            by_method("/api/{user_id}/trash/{id}", DELETE=self.purge),
            by_method("/api/{user_id}/trash/{id}/restore", POST=self.restore),
        ]

    async def _caller(self, request: Request, action: Action) -> Caller:
        return await parsing.caller(request, self.verifier, action)

    async def _caller_and_entry(self, request: Request) -> tuple[Caller, TaskId]:
        caller = await self._caller(request, TRASH_ACTION)
        entry = parsing.task_id(request.path_params["id"])
        parsing.no_parameters(request)
        return caller, entry

    async def index(self, request: Request) -> Response:
        """GET /api/{user_id}/trash: one page of the trash the caller sees, newest first."""
        caller = await self._caller(request, Action.READ)
        limit, cursor = trash_query(request.query_params)
        page = await self.trash.page(caller, limit=limit, cursor=cursor)
        items = [trashed_json(e) for e in page.entries]
        return self.style.trash_page(items, page.next_cursor, limit=limit, request=request)

    async def restore(self, request: Request) -> Response:
        """POST /api/{user_id}/trash/{id}/restore: the task back, with its subtasks."""
        caller, entry = await self._caller_and_entry(request)
        task = await self.trash.restore(caller, entry)
        return self.style.resource(task_json(task), "Task restored.", headers={"ETag": task.etag})

    async def purge(self, request: Request) -> Response:
        """DELETE /api/{user_id}/trash/{id}: the entry and its subtasks, deleted for good."""
        caller, entry = await self._caller_and_entry(request)
        purged = await self.trash.purge(caller, entry)
        return self.style.resource(trashed_json(purged), "Task deleted for good.")

    async def empty(self, request: Request) -> Response:
        """DELETE /api/{user_id}/trash: every entry the caller sees, deleted for good."""
        caller = await self._caller(request, TRASH_ACTION)
        parsing.no_parameters(request)
        count = await self.trash.empty(caller)
        return self.style.resource({"deleted": count}, f"{count} task(s) deleted for good.")
