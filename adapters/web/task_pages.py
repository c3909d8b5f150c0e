"""The task pages of SPEC §5 and §7: a list with its filters, create (tasks and subtasks), edit,
complete, move and reorder, delete, undo."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.abilities import ROLE_PHRASES, Abilities, refusal
from adapters.web.forms import Form, expected_version, field_errors, ids, task_data, task_form
from adapters.web.kit import Kit, redirect
from adapters.web.listing import SORT_CHOICES, STATUS_CHOICES, PageView, back_to
from adapters.web.outline import TOP_LEVEL, outline
from adapters.web.routing import PageError, list_gone, not_allowed, not_found, page_route
from adapters.web.session import DEFAULT_NEXT, safe_next
from domain.batches import BATCH_MAX
from domain.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from domain.idempotency import Reply
from domain.lists import ListView
from domain.policy import ROLE_REFUSED, check_shareable
from domain.tasks import PLACEMENT_FIELDS, Priority, Task, parse_changes, parse_move
from domain.types import ListId, TaskId, parse_task_id
from domain.users import Caller
from taskservice.services import ListUseCases, TaskUseCases, TrashUseCases

NOTICES: Final = {
    "created": "Task added.",
    "updated": "Task saved.",
    "completed": "Task completed.",
    "reopened": "Task reopened.",
    "restored": "Task restored.",
    "moved": "Task moved.",
    "welcome": "Welcome! Your account is ready. Add your first task below.",
    "undo_expired": "That task can no longer be restored.",
    "list_created": "List created.",
    "list_renamed": "List renamed.",
    "list_deleted": "List deleted.",
    "joined": "You have joined the list.",
    "left": "You have left the list.",
    # After "complete all" and "clear completed" (bulk_pages.py), each one batch.
    "completed_all": "All pending tasks completed.",
    "completed_some": f"The first {BATCH_MAX} pending tasks were completed. Choose “Complete all” "
    "again for the rest.",
    "cleared": "Completed tasks cleared.",
    "cleared_some": f"The first {BATCH_MAX} completed tasks were cleared. Choose “Clear "
    "completed” again for the rest.",
    "bulk_changed": "The list changed in the meantime, so nothing was changed. Please try again.",
}
PRIORITIES: Final = tuple(p.value for p in Priority)
MOVE_FIELDS: Final = ("list_id", "parent_id", "after")


@attrs.frozen(kw_only=True)
class ListLink:
    """A list in the list switcher."""

    shared: ListView
    url: str
    is_open: bool


@attrs.frozen(kw_only=True)
class TaskPages:
    """The task list of one list and the forms that change tasks, bound to the web toolkit and
    the task and list use cases; every page shows a list the visitor belongs to."""

    kit: Kit
    tasks: TaskUseCases
    lists: ListUseCases
    trash: TrashUseCases

    def routes(self) -> list[Route]:
        """The routes of the task pages."""
        on_error = self.kit.error_page
        return [
            page_route("/tasks", on_error, GET=self.index, POST=self.create),
            page_route("/tasks/restore", on_error, POST=self.restore),
            page_route("/tasks/{task_id}/edit", on_error, GET=self.edit_page, POST=self.edit),
            page_route("/tasks/{task_id}/complete", on_error, POST=self.complete),
            page_route("/tasks/{task_id}/move", on_error, POST=self.move),
            page_route("/tasks/{task_id}/delete", on_error, POST=self.delete),
        ]

    def _now(self) -> datetime:
        return self.kit.deps.clock.now()

    async def index(self, request: Request) -> Response:
        """GET /tasks: one page of a list (`list`, else the default list), with the notice of
        the last action."""
        caller = await self.kit.caller(request)
        params = request.query_params
        notice = NOTICES.get(params.get("notice", ""))
        undo = params.get("undo")
        deleted = self.kit.undo.unseal(undo, caller.owner, self._now()) if undo else None
        return await self._list_page(
            request,
            caller,
            PageView.from_params(params),
            notice=notice,
            undo={"token": undo, "title": deleted.title} if deleted else None,
        )

    async def create(self, request: Request) -> Response:
        """POST /tasks: add a task (or a subtask) to a list, then back to that list."""
        form, caller = await self.kit.caller_form(request)
        view = PageView.from_url(safe_next(form.get("next")) or DEFAULT_NEXT)
        data = task_data(form) | ids(form, PLACEMENT_FIELDS)
        try:
            changes = parse_changes(data, "create")
        except ValidationFailed as exc:
            errors = field_errors(exc.details)
            if "parent_id" in data:
                # The subtask form of that task shows what went wrong, the composer stays empty.
                context: dict[str, Any] = {"subtask_error": (data["parent_id"], errors)}
            else:
                context = {"form": form, "errors": errors}
            return await self._list_page(request, caller, view, status=422, **context)
        await self.tasks.create(caller, changes)
        return redirect(back_to(view.url(cursor=None), "created"))

    async def edit_page(self, request: Request) -> Response:
        """GET /tasks/{id}/edit: the task's form, and where it can move (editors and owners)."""
        caller = await self.kit.caller(request)
        task = await self.tasks.get(caller, _task_id(request))
        back = safe_next(request.query_params.get("next")) or DEFAULT_NEXT
        return await self._edit_page(request, caller, task, task_form(task), back=back)

    async def edit(self, request: Request) -> Response:
        """POST /tasks/{id}/edit: save the form if the task has not changed in between."""
        form, caller = await self.kit.caller_form(request)
        task = await self.tasks.get(caller, _task_id(request))
        back = safe_next(form.get("next")) or DEFAULT_NEXT
        try:
            changes = parse_changes(task_data(form, current=task), "replace")
            await self.tasks.update(caller, task.id, changes, expected=expected_version(form))
        except ValidationFailed as exc:
            errors = field_errors(exc.details)
            return await self._edit_page(
                request, caller, task, form, back=back, status=422, errors=errors
            )
        except PreconditionFailed:
            latest = await self.tasks.get(caller, task.id)
            problem = (
                "Someone changed this task after you opened it. Check your changes and save "
                "again to keep them."
            )
            return await self._edit_page(
                request, caller, latest, form, back=back, status=409, problem=problem
            )
        return redirect(back_to(back, "updated"))

    async def complete(self, request: Request) -> Response:
        """POST /tasks/{id}/complete: mark the task completed (completed=true) or pending."""
        form, caller = await self.kit.caller_form(request)
        completed = {"true": True, "false": False}.get(form.get("completed", "true"))
        if completed is None:
            raise PageError(400, "Bad request", "The form asked for an unknown state.")
        await self.tasks.set_completion(caller, _task_id(request), completed)
        return redirect(back_to(form.get("next"), "completed" if completed else "reopened"))

    async def move(self, request: Request) -> Response:
        """POST /tasks/{id}/move: another list, parent or place among its siblings, as the
        reorder buttons, the drag and drop and the edit page's move forms ask."""
        form, caller = await self.kit.caller_form(request)
        move = parse_move(ids(form, MOVE_FIELDS))
        await self.tasks.move(caller, _task_id(request), move)
        return redirect(back_to(form.get("next"), "moved"))

    async def delete(self, request: Request) -> Response:
        """POST /tasks/{id}/delete: delete the task and offer to undo it."""
        form, caller = await self.kit.caller_form(request)
        deleted = await self.tasks.delete(caller, _task_id(request))
        undo = self.kit.undo.seal(deleted, caller.owner, self._now())
        return redirect(back_to(form.get("next"), "deleted", undo=undo))

    async def restore(self, request: Request) -> Response:
        """POST /tasks/restore: a just-deleted task back from the trash, with its subtasks,
        once however often it is sent."""
        form, caller = await self.kit.caller_form(request)
        undo = self.kit.undo.unseal(form.get("undo", ""), caller.owner, self._now())
        if undo is None:
            return redirect(back_to(form.get("next"), "undo_expired"))
        # The first restore's answer is kept under the undo's id; a repeat gets it, restoring
        # nothing.
        restored = Reply(
            status=303, headers={"Location": back_to(form.get("next"), "restored")}, body=b""
        )
        try:
            outcome = await self.trash.restore_once(
                caller, undo.task_id, request=undo.request(), render=lambda _: restored
            )
        except NotFound:
            # Deleted for good from the trash meanwhile.
            return redirect(back_to(form.get("next"), "undo_expired"))
        except Conflict:
            raise PageError(
                409,
                "Already being restored",
                "This task is being restored by another request. Reload the list in a moment.",
            ) from None
        return redirect(outcome.reply.headers["Location"])

    async def _list_page(
        self,
        request: Request,
        caller: Caller,
        view: PageView,
        *,
        status: int = 200,
        **context: Any,
    ) -> Response:
        lists = await self.lists.list_all(caller)
        shown = _open(lists, view.list_id)
        abilities = Abilities.of(shown.role)
        try:
            page = await self.tasks.list_page(caller, view.query(shown.list.id), view.cursor)
        except ValidationFailed:
            raise PageError(
                400,
                "This page link is out of date",
                "The list changed its filters or order since this link was made. "
                "Start again from the first page.",
            ) from None
        rows = outline(
            page.tasks,
            reorderable=view.is_manual and abilities.write_tasks,
            first_page=view.cursor is None,
        )
        values = {
            "form": task_form(),
            "errors": {},
            "notice": None,
            "undo": None,
            "subtask_error": None,
        } | context
        return self.kit.page(
            request,
            "tasks.html",
            status=status,
            page=page,
            rows=rows,
            view=view,
            shown=shown,
            abilities=abilities,
            role_phrase=ROLE_PHRASES[shown.role],
            shareable=refusal(check_shareable, shown.list) is None,
            switcher=_switcher(lists, shown),
            return_to=view.url(),
            events_url=f"/api/{quote(caller.owner, safe='')}/events",
            sort_choices=SORT_CHOICES,
            status_choices=STATUS_CHOICES,
            priorities=PRIORITIES,
            top_level=TOP_LEVEL,
            **values,
        )

    async def _edit_page(
        self,
        request: Request,
        caller: Caller,
        task: Task,
        form: Form,
        *,
        back: str,
        status: int = 200,
        **context: Any,
    ) -> Response:
        lists = await self.lists.list_all(caller)
        shown = _open(lists, task.list_id)
        if not Abilities.of(shown.role).write_tasks:
            raise not_allowed(ROLE_REFUSED)
        parent = await self.tasks.get(caller, task.parent_id) if task.parent_id else None
        targets = [
            v for v in lists if v.list.id != task.list_id and Abilities.of(v.role).write_tasks
        ]
        values = {"errors": {}, "problem": None} | context
        return self.kit.page(
            request,
            "edit.html",
            status=status,
            task=task,
            form=form,
            back=back,
            shown=shown,
            parent=parent,
            targets=targets,
            top_level=TOP_LEVEL,
            priorities=PRIORITIES,
            **values,
        )


def _open(lists: list[ListView], list_id: ListId | None) -> ListView:
    """The list the page shows: `list_id`, or the default list (always the first) for None."""
    if list_id is None:
        return lists[0]
    for shared in lists:
        if shared.list.id == list_id:
            return shared
    raise list_gone()


def _switcher(lists: list[ListView], shown: ListView) -> list[ListLink]:
    return [
        ListLink(
            shared=shared,
            url=PageView.of_list(shared.list.id, is_default=shared.list.is_default).url(),
            is_open=shared is shown,
        )
        for shared in lists
    ]


def _task_id(request: Request) -> TaskId:
    """The task id in the path; a 404 page for anything that is not a positive 64-bit integer."""
    found = parse_task_id(request.path_params["task_id"])
    if found is None:
        raise not_found()
    return found
