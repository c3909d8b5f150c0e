"""Batches (SPEC §8) through the use case, alike in memory, on SQLite and on PostgreSQL: one
transaction, all or nothing (tasks, the lists' counters and the idempotency record alike), and
each operation seeing what the earlier ones wrote in it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from domain.batches import parse_batch
from domain.errors import NotFound, PreconditionFailed
from domain.idempotency import IdempotentRequest, Reply
from domain.queries import Sort, SortField, TaskCounts, TaskQuery
from domain.tasks import Task, parse_changes
from domain.types import ListId, UserId
from domain.users import Caller, Principal
from taskservice.ports import UnitOfWorkFactory
from taskservice.services import ListUseCases, TaskUseCases
from tests.clock import FakeClock
from tests.integration.sql_backends import store_of
from tests.sealing import CURSORS

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=BACKENDS)
async def uow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[UnitOfWorkFactory]:
    """One store per backend for the module; each test has a person of its own."""
    async with store_of(request.param, tmp_path_factory.mktemp("batches")) as store:
        yield store


@attrs.frozen
class Desk:
    """One person and the task and list use cases on the store under test."""

    me: Caller
    tasks: TaskUseCases
    lists: ListUseCases

    async def add(self, title: str, list_id: ListId, **more: object) -> Task:
        """A new task of theirs in `list_id`."""
        body = {"title": title, "list_id": list_id, **more}
        return await self.tasks.create(self.me, parse_changes(body, "create"))

    async def shown(self, list_id: ListId) -> tuple[list[tuple[str, bool]], TaskCounts]:
        """The list's tasks in manual order (title, completed) and its counts, as committed."""
        query = TaskQuery(
            list_id=list_id, sort=Sort(field=SortField.POSITION, descending=False), limit=100
        )
        page = await self.tasks.list_page(self.me, query)
        return [(t.title, t.completed) for t in page.tasks], page.counts


@pytest.fixture
async def desk(uow: UnitOfWorkFactory) -> tuple[Desk, ListId]:
    clock = FakeClock(START, tick=timedelta(seconds=1))
    me = Caller.of(Principal(user_id=UserId(f"b-{uuid.uuid4().hex[:10]}")))
    work = Desk(
        me=me,
        tasks=TaskUseCases(uow=uow, clock=clock, cursors=CURSORS),
        lists=ListUseCases(uow=uow, clock=clock),
    )
    made = await work.lists.create(me, "Chores")
    return work, made.list.id


async def test_a_failing_third_operation_leaves_the_first_two_unapplied(
    desk: tuple[Desk, ListId],
) -> None:
    work, list_id = desk
    dishes, bins = await work.add("dishes", list_id), await work.add("bins", list_id)
    before = await work.shown(list_id)
    operations = parse_batch(
        {
            "operations": [
                {"op": "complete", "id": dishes.id},
                {"op": "delete", "id": bins.id},
                {"op": "update", "id": dishes.id, "data": {"title": "x"}, "if_match": 1},
                {"op": "create", "data": {"title": "never", "list_id": list_id}},
            ]
        }
    )
    with pytest.raises(PreconditionFailed) as refused:
        await work.tasks.batch(work.me, operations)
    assert [(d.field, d.code) for d in refused.value.details] == [
        ("operations[2]", "precondition_failed")
    ]
    # Read back: the tasks, and the list's counters the writes moved, are as they were.
    assert (
        await work.shown(list_id)
        == before
        == ([("dishes", False), ("bins", False)], TaskCounts(pending=2, completed=0))
    )
    assert await work.tasks.get(work.me, dishes.id) == dishes
    assert await work.tasks.get(work.me, bins.id) == bins


async def test_each_operation_sees_what_the_earlier_ones_wrote(desk: tuple[Desk, ListId]) -> None:
    work, list_id = desk
    parent = await work.add("parent", list_id)
    sub = await work.add("sub", list_id, parent_id=parent.id)
    results = await work.tasks.batch(
        work.me,
        parse_batch(
            {
                "operations": [
                    {"op": "update", "id": parent.id, "data": {"title": "renamed"}},
                    {"op": "complete", "id": parent.id, "if_match": 2},
                    {"op": "create", "data": {"title": "a", "list_id": list_id}},
                    {"op": "create", "data": {"title": "b", "list_id": list_id}},
                    {"op": "complete", "id": sub.id, "data": {"completed": True}},
                ]
            }
        ),
    )
    assert [(t.title, t.completed, t.version) for t in results] == [
        ("renamed", False, 2),
        ("renamed", True, 3),
        ("a", False, 1),
        ("b", False, 1),
        ("sub", True, 2),
    ]
    assert await work.shown(list_id) == (
        [("renamed", True), ("sub", True), ("a", False), ("b", False)],
        TaskCounts(pending=2, completed=2),
    )
    # The subtask goes with its parent in the batch's transaction: a later operation on it
    # finds nothing, and the whole batch is refused.
    gone = parse_batch(
        {"operations": [{"op": "delete", "id": parent.id}, {"op": "delete", "id": sub.id}]}
    )
    with pytest.raises(NotFound):
        await work.tasks.batch(work.me, gone)
    assert len((await work.shown(list_id))[0]) == 4


async def test_a_key_is_kept_with_the_batch_it_answers(desk: tuple[Desk, ListId]) -> None:
    work, list_id = desk
    task = await work.add("t", list_id)
    body = {
        "operations": [
            {"op": "complete", "id": task.id},
            {"op": "delete", "id": task.id, "if_match": 9},
        ]
    }

    def render(tasks: list[Task]) -> Reply:
        return Reply(status=200, headers={}, body=repr([t.version for t in tasks]).encode())

    request = IdempotentRequest(key=f"k-{uuid.uuid4().hex}", fingerprint="first")
    with pytest.raises(PreconditionFailed):
        await work.tasks.batch_once(work.me, parse_batch(body), request=request, render=render)
    # Refused, the batch kept no answer: the key works for the next body.
    retried = IdempotentRequest(key=request.key, fingerprint="second")
    toggle = parse_batch({"operations": [{"op": "complete", "id": task.id}]})
    first = await work.tasks.batch_once(work.me, toggle, request=retried, render=render)
    again = await work.tasks.batch_once(work.me, toggle, request=retried, render=render)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.reply.body == first.reply.body == b"[2]"
    assert (await work.tasks.get(work.me, task.id)).completed
