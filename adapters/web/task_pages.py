"""The task pages of SPEC §5: the list with its filters, create, edit, complete, delete, undo."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.forms import Form, field_errors, task_data, task_form
from adapters.web.kit import Kit, redirect
from adapters.web.listing import SORT_CHOICES, STATUS_CHOICES, ListView, back_to
from adapters.web.routing import PageError, not_found, page_route
from adapters.web.session import DEFAULT_NEXT, here, safe_next
from domain.errors import Conflict, PreconditionFailed, ValidationFailed
from domain.idempotency import Reply
from domain.tasks import Priority, Task, parse_changes
from domain.types import TaskId, parse_task_id
from domain.users import Caller
from taskservice.services import TaskUseCases

NOTICES: Final = {
    "created": "Task added.",
    "updated": "Task saved.",
    "completed": "Task completed.",
    "reopened": "Task reopened.",
    "restored": "Task restored.",
    "welcome": "Welcome! Your account is ready. Add your first task below.",
    "undo_expired": "That task can no longer be restored.",
}
PRIORITIES: Final = tuple(p.value for p in Priority)


@attrs.frozen(kw_only=True)
class TaskPages:
    """The task list and the forms that change tasks, bound to the web toolkit and the task use
    cases; every page shows the signed-in visitor their own tasks."""

    kit: Kit
    tasks: TaskUseCases

    def routes(self) -> list[Route]:
        """The routes of the task pages."""
        on_error = self.kit.error_page
        return [
            page_route("/tasks", on_error, GET=self.index, POST=self.create),
            page_route("/tasks/restore", on_error, POST=self.restore),
            page_route("/tasks/{task_id}/edit", on_error, GET=self.edit_page, POST=self.edit),
            page_route("/tasks/{task_id}/complete", on_error, POST=self.complete),
            page_route("/tasks/{task_id}/delete", on_error, POST=self.delete),
        ]

    async def _caller(self, request: Request) -> Caller:
        """The signed-in visitor, who is sent to sign in (and back here) otherwise."""
        return Caller.of(await self.kit.principal(request, here(request)))

    async def _form(self, request: Request) -> tuple[Form, Caller]:
        """The CSRF-checked form of a signed-in visitor, and the visitor."""
        form, principal = await self.kit.session_form(request)
        return form, Caller.of(principal)

    def _now(self) -> datetime:
        return self.kit.deps.clock.now()

    async def index(self, request: Request) -> Response:
        """GET /tasks: one page of the list, with the notice of the last action."""
        caller = await self._caller(request)
        params = request.query_params
        notice = NOTICES.get(params.get("notice", ""))
        undo = params.get("undo")
        deleted = self.kit.undo.unseal(undo, caller.owner, self._now()) if undo else None
        return await self._list_page(
            request,
            caller,
            ListView.from_params(params),
            notice=notice,
            undo={"token": undo, "title": deleted.title} if deleted else None,
        )

    async def create(self, request: Request) -> Response:
        """POST /tasks: add a task, then back to the first page of the list."""
        form, caller = await self._form(request)
        view = ListView.from_url(safe_next(form.get("next")) or DEFAULT_NEXT)
        try:
            changes = parse_changes(task_data(form), "create")
        except ValidationFailed as exc:
            errors = field_errors(exc.details)
            return await self._list_page(
                request, caller, view, status=422, form=form, errors=errors
            )
        await self.tasks.create(caller, changes)
        return redirect(back_to(view.url(cursor=None), "created"))

    async def edit_page(self, request: Request) -> Response:
        """GET /tasks/{id}/edit: the task's form."""
        caller = await self._caller(request)
        task = await self.tasks.get(caller, _task_id(request))
        back = safe_next(request.query_params.get("next")) or DEFAULT_NEXT
        return self._edit_page(request, task, task_form(task), back=back)

    async def edit(self, request: Request) -> Response:
        """POST /tasks/{id}/edit: save the form if the task has not changed in between."""
        form, caller = await self._form(request)
        task = await self.tasks.get(caller, _task_id(request))
        back = safe_next(form.get("next")) or DEFAULT_NEXT
        try:
            changes = parse_changes(task_data(form, current=task), "replace")
            await self.tasks.update(caller, task.id, changes, expected=_expected(form))
        except ValidationFailed as exc:
            errors = field_errors(exc.details)
            return self._edit_page(request, task, form, back=back, status=422, errors=errors)
        except PreconditionFailed:
            latest = await self.tasks.get(caller, task.id)
            problem = (
                "Someone changed this task after you opened it. Check your changes and save "
                "again to keep them."
            )
            return self._edit_page(request, latest, form, back=back, status=409, problem=problem)
        return redirect(back_to(back, "updated"))

    async def complete(self, request: Request) -> Response:
        """POST /tasks/{id}/complete: mark the task completed (completed=true) or pending."""
        form, caller = await self._form(request)
        completed = {"true": True, "false": False}.get(form.get("completed", "true"))
        if completed is None:
            raise PageError(400, "Bad request", "The form asked for an unknown state.")
        await self.tasks.set_completion(caller, _task_id(request), completed)
        return redirect(back_to(form.get("next"), "completed" if completed else "reopened"))

    async def delete(self, request: Request) -> Response:
        """POST /tasks/{id}/delete: delete the task and offer to undo it."""
        form, caller = await self._form(request)
        deleted = await self.tasks.delete(caller, _task_id(request))
        undo = self.kit.undo.seal(deleted, caller.owner, self._now())
        return redirect(back_to(form.get("next"), "deleted", undo=undo))

    async def restore(self, request: Request) -> Response:
        """POST /tasks/restore: re-create a just-deleted task, once however often it is sent."""
        form, caller = await self._form(request)
        undo = self.kit.undo.unseal(form.get("undo", ""), caller.owner, self._now())
        if undo is None:
            return redirect(back_to(form.get("next"), "undo_expired"))
        # The first restore's answer is kept under the undo's id; a repeat gets it, creating nothing.
        restored = Reply(
            status=303, headers={"Location": back_to(form.get("next"), "restored")}, body=b""
        )
        changes = parse_changes(undo.fields, "create")
        try:
            outcome = await self.tasks.create_once(
                caller, changes, request=undo.request(), render=lambda _: restored
            )
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
        view: ListView,
        *,
        status: int = 200,
        **context: Any,
    ) -> Response:
        try:
            page = await self.tasks.list_page(caller, view.query(), view.cursor)
        except ValidationFailed:
            raise PageError(
                400,
                "This page link is out of date",
                "The list changed its filters or order since this link was made. "
                "Start again from the first page.",
            ) from None
        values = {
            "form": task_form(),
            "errors": {},
            "notice": None,
            "undo": None,
        } | context
        return self.kit.page(
            request,
            "tasks.html",
            status=status,
            page=page,
            view=view,
            return_to=view.url(),
            sort_choices=SORT_CHOICES,
            status_choices=STATUS_CHOICES,
            priorities=PRIORITIES,
            **values,
        )

    def _edit_page(
        self,
        request: Request,
        task: Task,
        form: Form,
        *,
        back: str,
        status: int = 200,
        **context: Any,
    ) -> Response:
        values = {"errors": {}, "problem": None} | context
        return self.kit.page(
            request,
            "edit.html",
            status=status,
            task=task,
            form=form,
            back=back,
            priorities=PRIORITIES,
            **values,
        )


def _task_id(request: Request) -> TaskId:
    """The task id in the path; a 404 page for anything that is not a positive 64-bit integer."""
    found = parse_task_id(request.path_params["task_id"])
    if found is None:
        raise not_found()
    return found


def _expected(form: Form) -> frozenset[int] | None:
    """The version the edit form was opened at, if it carries one."""
    version = form.get("version", "")
    if version.isascii() and version.isdecimal() and len(version) <= 19:
        return frozenset({int(version)})
    return None
