"""The trash page of SPEC §8: deleted tasks, restored or deleted for good (after a
confirmation), and emptied (after one too)."""

from __future__ import annotations

from typing import Final

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.kit import Kit, redirect
from adapters.web.routing import PageError, not_found, page_route
from domain.errors import NotFound, ValidationFailed
from domain.queries import LIMIT_DEFAULT
from domain.trash import KEPT_FOR
from domain.types import TaskId, parse_task_id
from taskservice.services import ListUseCases, TrashUseCases

NOTICES: Final = {
    "restored": "Task restored to its list.",
    "purged": "Task deleted for good.",
    "emptied": "Trash emptied.",
    "gone": "That task is no longer in the trash.",
}


@attrs.frozen(kw_only=True)
class TrashPages:
    """The trash, bound to the web toolkit and the trash and list use cases."""

    kit: Kit
    trash: TrashUseCases
    lists: ListUseCases

    def routes(self) -> list[Route]:
        """The routes of the trash pages."""
        on_error = self.kit.error_page
        return [
            page_route("/trash", on_error, GET=self.index),
            page_route("/trash/empty", on_error, GET=self.empty_page, POST=self.empty),
            page_route("/trash/{task_id}/restore", on_error, POST=self.restore),
            page_route("/trash/{task_id}/delete", on_error, GET=self.purge_page, POST=self.purge),
        ]

    async def index(self, request: Request) -> Response:
        """GET /trash: a page of the deleted tasks the visitor sees, most recent first."""
        caller = await self.kit.caller(request)
        cursor = request.query_params.get("cursor") or None
        try:
            page = await self.trash.page(caller, limit=LIMIT_DEFAULT, cursor=cursor)
        except ValidationFailed:
            raise PageError(
                400, "This page link is out of date", "Start again from the first page."
            ) from None
        names = {v.list.id: v.list.name for v in await self.lists.list_all(caller)}
        return self.kit.page(
            request,
            "trash.html",
            page=page,
            names=names,
            me=caller.owner,
            first_page=cursor is None,
            kept_days=KEPT_FOR.days,
            notice=NOTICES.get(request.query_params.get("notice", "")),
        )

    async def restore(self, request: Request) -> Response:
        """POST /trash/{id}/restore: the task back in its list, with its subtasks."""
        _, caller = await self.kit.caller_form(request)
        try:
            await self.trash.restore(caller, _task_id(request))
        except NotFound:
            # Restored or purged meanwhile (a second click, another tab): say so on the page.
            return redirect("/trash?notice=gone")
        return redirect("/trash?notice=restored")

    async def purge_page(self, request: Request) -> Response:
        """GET /trash/{id}/delete: what deleting the task for good takes, and a button to do it."""
        caller = await self.kit.caller(request)
        entry = await self.trash.entry(caller, _task_id(request))
        return self.kit.page(request, "trash_confirm.html", entry=entry)

    async def purge(self, request: Request) -> Response:
        """POST /trash/{id}/delete: the task and its subtasks deleted for good."""
        _, caller = await self.kit.caller_form(request)
        try:
            await self.trash.purge(caller, _task_id(request))
        except NotFound:
            return redirect("/trash?notice=gone")
        return redirect("/trash?notice=purged")

    async def empty_page(self, request: Request) -> Response:
        """GET /trash/empty: the confirmation of emptying the trash."""
        await self.kit.caller(request)
        return self.kit.page(request, "trash_confirm.html", entry=None)

    async def empty(self, request: Request) -> Response:
        """POST /trash/empty: every task the visitor sees in the trash, deleted for good."""
        _, caller = await self.kit.caller_form(request)
        await self.trash.empty(caller)
        return redirect("/trash?notice=emptied")


def _task_id(request: Request) -> TaskId:
    """The task id in the path; a 404 page for anything that is not a positive 64-bit integer."""
    found = parse_task_id(request.path_params["task_id"])
    if found is None:
        raise not_found()
    return found
