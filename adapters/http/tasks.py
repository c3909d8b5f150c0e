"""The task endpoints of SPEC §3.1, and the move of §7."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import quote

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import parsing
from adapters.http.representation import task_json
from adapters.http.routing import by_method
from adapters.http.style import Style
from domain.batches import parse_batch
from domain.errors import ValidationFailed
from domain.idempotency import IdempotentRequest, Reply, key_errors
from domain.policy import Action
from domain.tasks import Task, parse_changes, parse_completion, parse_move
from domain.types import TaskId, UserId
from domain.users import Caller
from taskservice.ports import TokenVerifier
from taskservice.services import TaskUseCases


@attrs.frozen(kw_only=True)
class TaskApi:
    """The task endpoints, bound to the task use cases."""

    tasks: TaskUseCases
    verifier: TokenVerifier
    style: Style

    def routes(self) -> list[Route]:
        """The routes of the task API."""
        return [
            by_method("/api/{user_id}/tasks", GET=self.index, POST=self.create),
            # Other methods here reach …/tasks/{id}, where "batch" names no task: a 404.
            by_method("/api/{user_id}/tasks/batch", POST=self.batch),
            by_method(
                "/api/{user_id}/tasks/{id}",
                GET=self.show,
                PUT=self.replace,
                PATCH=self.patch,
                DELETE=self.delete,
            ),
            by_method("/api/{user_id}/tasks/{id}/complete", PATCH=self.complete),
            by_method("/api/{user_id}/tasks/{id}/move", POST=self.move),
        ]

    async def _caller(self, request: Request, action: Action) -> Caller:
        return await parsing.caller(request, self.verifier, action)

    async def _caller_and_task(
        self, request: Request, action: Action = Action.WRITE_TASKS
    ) -> tuple[Caller, TaskId]:
        """The caller allowed `action`, and the task the path names."""
        return await self._caller(request, action), parsing.task_id(request.path_params["id"])

    async def index(self, request: Request) -> Response:
        """GET /api/{user_id}/tasks: one page of the user's tasks."""
        caller = await self._caller(request, Action.READ)
        query, cursor = self.style.list_query(request.query_params)
        if "if-none-match" in request.headers:
            tag = await self.tasks.page_tag(caller, query, cursor)
            if parsing.if_none_match_tag(request, tag):
                return Response(status_code=304, headers={"ETag": str(tag)})
        page = await self.tasks.list_page(caller, query, cursor)
        items = [task_json(t) for t in page.tasks]
        response = self.style.page(items, page, limit=query.limit, request=request)
        response.headers["ETag"] = page.tag
        return response

    async def create(self, request: Request) -> Response:
        """POST /api/{user_id}/tasks: a new task, once per Idempotency-Key when one is sent."""
        caller = await self._caller(request, Action.WRITE_TASKS)
        body = await parsing.json_object(request) or {}
        key = request.headers.get("idempotency-key")
        changes = _keyed(key, lambda: parse_changes(body, "create"))
        created = functools.partial(self._created, caller.owner)
        if key is None:
            return _replied(created(await self.tasks.create(caller, changes)))
        keyed = IdempotentRequest(key=key, fingerprint=parsing.fingerprint(body))
        outcome = await self.tasks.create_once(caller, changes, request=keyed, render=created)
        return _replied(outcome.reply, replayed=outcome.replayed)

    async def show(self, request: Request) -> Response:
        """GET /api/{user_id}/tasks/{id}: one task, or 304 when the client's copy is current."""
        caller, task_id = await self._caller_and_task(request, Action.READ)
        task = await self.tasks.get(caller, task_id)
        if parsing.if_none_match(request, task.version):
            return Response(status_code=304, headers={"ETag": task.etag})
        return self._task_response(task, "Task found.")

    async def replace(self, request: Request) -> Response:
        """PUT /api/{user_id}/tasks/{id}: title required, left-out fields keep their value."""
        return await self._update(request, "replace", parsing.JSON)

    async def patch(self, request: Request) -> Response:
        """PATCH /api/{user_id}/tasks/{id}: a JSON merge patch."""
        return await self._update(request, "patch", parsing.JSON_OR_MERGE_PATCH)

    async def _update(self, request: Request, mode: str, media_types: frozenset[str]) -> Response:
        caller, task_id = await self._caller_and_task(request)
        body = await parsing.json_object(request, media_types)
        changes = parse_changes(body or {}, "replace" if mode == "replace" else "patch")
        expected = parsing.if_match(request)
        task = await self.tasks.update(caller, task_id, changes, expected=expected)
        return self._task_response(task, "Task updated.")

    async def delete(self, request: Request) -> Response:
        """DELETE /api/{user_id}/tasks/{id}: returns the deleted task so a client can offer undo."""
        caller, task_id = await self._caller_and_task(request)
        task = await self.tasks.delete(caller, task_id, expected=parsing.if_match(request))
        return self.style.resource(task_json(task), "Task deleted.")

    async def complete(self, request: Request) -> Response:
        """PATCH …/complete: `{"completed": …}` sets completion; no body or `{}` toggles it."""
        caller, task_id = await self._caller_and_task(request)
        body = await parsing.json_object(request, parsing.JSON_OR_MERGE_PATCH, optional=True) or {}
        key = request.headers.get("idempotency-key")
        completed = _keyed(key, lambda: parse_completion(body))
        expected = parsing.if_match(request)
        if key is None:
            task = await self.tasks.set_completion(caller, task_id, completed, expected=expected)
            return _replied(self._completed(task))
        # The task is part of what the key names: the same key on another task is a reuse.
        fingerprint = parsing.fingerprint(body, scope=f"complete {task_id}")
        outcome = await self.tasks.set_completion_once(
            caller,
            task_id,
            completed,
            request=IdempotentRequest(key=key, fingerprint=fingerprint),
            render=self._completed,
            expected=expected,
        )
        return _replied(outcome.reply, replayed=outcome.replayed)

    async def batch(self, request: Request) -> Response:
        """POST /api/{user_id}/tasks/batch: operations applied all together or not at all (§8)."""
        caller = await self._caller(request, Action.WRITE_TASKS)
        parsing.no_parameters(request)
        body = await parsing.json_object(request) or {}
        key = request.headers.get("idempotency-key")
        operations = _keyed(key, lambda: parse_batch(body))
        if key is None:
            return _replied(self._applied(await self.tasks.batch(caller, operations)))
        # Scoped to the route: the same key and body sent as a create is a reuse.
        keyed = IdempotentRequest(key=key, fingerprint=parsing.fingerprint(body, scope="batch"))
        outcome = await self.tasks.batch_once(
            caller, operations, request=keyed, render=self._applied
        )
        return _replied(outcome.reply, replayed=outcome.replayed)

    async def move(self, request: Request) -> Response:
        """POST …/move: another list, parent or place among the siblings (SPEC §7)."""
        caller, task_id = await self._caller_and_task(request)
        parsing.no_parameters(request)
        move = parse_move(await parsing.json_object(request) or {})
        task = await self.tasks.move(caller, task_id, move, expected=parsing.if_match(request))
        return self._task_response(task, "Task moved.")

    def _created(self, me: UserId, task: Task) -> Reply:
        # The caller's own path: in a shared list the task's owner (`user_id`) is someone else,
        # whose path would be a 403 for the caller.
        location = f"/api/{quote(me, safe='')}/tasks/{task.id}"
        return Reply(
            status=201,
            headers={"ETag": task.etag, "Location": location},
            body=self.style.body(task_json(task), "Task created."),
        )

    def _completed(self, task: Task) -> Reply:
        message = "Task completed." if task.completed else "Task reopened."
        return Reply(
            status=200,
            headers={"ETag": task.etag},
            body=self.style.body(task_json(task), message),
        )

    def _applied(self, tasks: list[Task]) -> Reply:
        body = self.style.body([task_json(t) for t in tasks], f"{len(tasks)} operation(s) applied.")
        return Reply(status=200, headers={}, body=body)

    def _task_response(self, task: Task, message: str) -> Response:
        return self.style.resource(task_json(task), message, headers={"ETag": task.etag})


_Parsed = TypeVar("_Parsed")


def _keyed(key: str | None, parse: Callable[[], _Parsed]) -> _Parsed:
    """What `parse` reads from the body, once the Idempotency-Key (when sent) is well-formed.

    A malformed key and a malformed body are reported together, as one list of broken rules.
    """
    errors = [] if key is None else key_errors(key)
    try:
        parsed = parse()
    except ValidationFailed as exc:
        raise ValidationFailed(errors + exc.details) from None
    if errors:
        raise ValidationFailed(errors)
    return parsed


def _replied(reply: Reply, *, replayed: bool = False) -> Response:
    headers = dict(reply.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(reply.body, reply.status, headers, media_type="application/json")
