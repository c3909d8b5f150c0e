"""SPEC §8's "complete all" and "clear completed" for the list a page shows, each one batch.

A batch holds at most BATCH_MAX operations, and the SPEC wants each press to act in one step:
all of it or none of it. So a press acts on the first BATCH_MAX matching tasks, in the list's own
order, in one batch, and the notice says when more remain (a second press takes the next ones).
Looping over several batches instead would make one press several steps, of which a later one
could fail after earlier ones were kept.
"""

from __future__ import annotations

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.abilities import Abilities
from adapters.web.kit import Kit, redirect
from adapters.web.list_pages import shared_list
from adapters.web.listing import MANUAL_ORDER, PageView, back_to
from adapters.web.routing import list_gone, not_allowed, page_route
from adapters.web.session import safe_next
from domain.batches import BATCH_MAX, CompleteTask, DeleteTask, Operation
from domain.errors import NotFound, PreconditionFailed
from domain.lists import ListView
from domain.policy import ROLE_REFUSED
from domain.queries import Status, TaskFilter, TaskQuery
from domain.tasks import Task
from domain.types import ListId, parse_list_id
from domain.users import Caller
from taskservice.services import ListUseCases, TaskUseCases


@attrs.frozen(kw_only=True)
class BulkPages:
    """Complete all and clear completed, bound to the web toolkit and the task and list use
    cases; editors and owners of the list only."""

    kit: Kit
    tasks: TaskUseCases
    lists: ListUseCases

    def routes(self) -> list[Route]:
        """The routes of the bulk actions."""
        on_error = self.kit.error_page
        return [
            page_route("/tasks/complete-all", on_error, POST=self.complete_all),
            page_route(
                "/tasks/clear-completed", on_error, GET=self.clear_page, POST=self.clear_completed
            ),
        ]

    async def complete_all(self, request: Request) -> Response:
        """POST /tasks/complete-all: complete the pending tasks of list `list_id`, in one batch."""
        form, caller = await self.kit.caller_form(request)
        shown = await self._writable(caller, form.get("list_id"))
        pending, more = await self._first(caller, shown.list.id, Status.PENDING)
        # Setting the state needs no If-Match: a task completed meanwhile stays completed.
        operations: list[Operation] = [CompleteTask(task_id=t.id, completed=True) for t in pending]
        notice = "completed_some" if more else "completed_all"
        return await self._apply(caller, operations, form.get("next") or _url(shown), notice)

    async def clear_page(self, request: Request) -> Response:
        """GET /tasks/clear-completed?list=…: what clearing the list's completed tasks deletes,
        and the button that does it."""
        caller = await self.kit.caller(request)
        shown = await self._writable(caller, request.query_params.get("list"))
        return self.kit.page(
            request,
            "clear_completed.html",
            shown=shown,
            batch_max=BATCH_MAX,
            back=safe_next(request.query_params.get("next")) or _url(shown),
        )

    async def clear_completed(self, request: Request) -> Response:
        """POST /tasks/clear-completed: delete the completed tasks of list `list_id`, in one
        batch."""
        form, caller = await self.kit.caller_form(request)
        shown = await self._writable(caller, form.get("list_id"))
        done, more = await self._first(caller, shown.list.id, Status.COMPLETED)
        chosen = {t.id for t in done}
        # A subtask goes with its parent (as a single delete takes it), so it is not deleted
        # again; each at the version read, so that a task reopened meanwhile is kept.
        operations: list[Operation] = [
            DeleteTask(task_id=t.id, expected=frozenset({t.version}))
            for t in done
            if t.parent_id not in chosen
        ]
        notice = "cleared_some" if more else "cleared"
        return await self._apply(caller, operations, form.get("next") or _url(shown), notice)

    async def _writable(self, caller: Caller, list_id: str | None) -> ListView:
        """The list `list_id` names, if the visitor may change its tasks: the list-not-found
        page for a non-member (or no id), a 403 page for a viewer."""
        found = parse_list_id(list_id or "")
        if found is None:
            raise list_gone()
        shown = await shared_list(self.lists, caller, found)
        if not Abilities.of(shown.role).write_tasks:
            raise not_allowed(ROLE_REFUSED)
        return shown

    async def _first(
        self, caller: Caller, list_id: ListId, status: Status
    ) -> tuple[list[Task], bool]:
        """The first BATCH_MAX tasks of the list with `status` in its own order, and whether
        more follow."""
        query = TaskQuery(
            list_id=list_id, filter=TaskFilter(status=status), sort=MANUAL_ORDER, limit=BATCH_MAX
        )
        page = await self.tasks.list_page(caller, query)
        return page.tasks, page.next_cursor is not None

    async def _apply(
        self, caller: Caller, operations: list[Operation], back: str, notice: str
    ) -> Response:
        if operations:
            try:
                await self.tasks.batch(caller, operations)
            except (NotFound, PreconditionFailed):
                # A task was deleted or changed by someone else between our read and the batch.
                notice = "bulk_changed"
        return redirect(back_to(back, notice))


def _url(shown: ListView) -> str:
    return PageView.of_list(shown.list.id, is_default=shown.list.is_default).url()
