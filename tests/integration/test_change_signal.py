"""What a commit tells the change signal (SPEC §8 live events), alike in memory, on SQLite and on
PostgreSQL: the lists and members its writes touched, once, and only after it committed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest

from domain.lists import Membership, Role
from domain.types import ListId, UserId
from taskservice.ports import UnitOfWorkFactory
from tests.integration.sql_backends import store_of
from tests.integration.test_list_behaviour import (
    BACKENDS,
    NOW,
    new_list,
    person,
    store,
    task_in,
)

Call = tuple[frozenset[ListId], frozenset[UserId]] | str


class Recorder:
    """A ChangeSignal that keeps every call, in order ("*" for everything)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def published(self, lists: frozenset[ListId], users: frozenset[UserId]) -> None:
        """Keep the call."""
        self.calls.append((lists, users))

    def everything(self) -> None:
        """Keep the call."""
        self.calls.append("*")

    def take(self) -> list[Call]:
        """The calls so far, forgotten."""
        calls, self.calls = self.calls, []
        return calls


@attrs.frozen
class Signalled:
    """A store and the recorder its commits tell."""

    uow: UnitOfWorkFactory
    signal: Recorder


@pytest.fixture(scope="module", params=BACKENDS)
async def signalled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Signalled]:
    """A store of the backend under test, with its recorder."""
    recorder = Recorder()
    async with store_of(request.param, tmp_path_factory.mktemp("signal"), recorder) as uow:
        yield Signalled(uow=uow, signal=recorder)


def lists(*ids: ListId) -> frozenset[ListId]:
    """A set of list ids."""
    return frozenset(ids)


async def test_task_writes_name_their_lists_after_the_commit(signalled: Signalled) -> None:
    uow, signal = signalled.uow, signalled.signal
    owner = person("owner")
    home, work = await new_list(uow, owner, "Home"), await new_list(uow, owner, "Work")
    signal.take()
    [task] = await store(uow, owner, task_in(home))
    assert signal.take() == [(lists(home.id), frozenset())]

    async with uow() as unit:
        moved = attrs.evolve(task, list_id=work.id, version=task.version + 1)
        assert await unit.tasks.replace(moved, task)
        assert signal.take() == [], "nothing is told before the commit"
        await unit.commit()
    assert signal.take() == [(lists(home.id, work.id), frozenset())]

    async with uow() as unit:
        assert await unit.tasks.remove(moved, owner.id, NOW)
        await unit.commit()
    assert signal.take() == [(lists(work.id), frozenset())]

    async with uow() as unit:
        assert await unit.trash.restore(moved.id, [moved])
        await unit.commit()
    assert signal.take() == [(lists(work.id), frozenset())], "a restore too"


async def test_a_rolled_back_unit_of_work_tells_nothing(signalled: Signalled) -> None:
    uow, signal = signalled.uow, signalled.signal
    owner = person("owner")
    home = await new_list(uow, owner, "Home")
    signal.take()
    async with uow() as unit:
        await unit.tasks.add(task_in(home), owner)
    async with uow() as unit:
        await unit.commit()
    assert signal.take() == [], "a commit that wrote nothing tells nothing"
    [task] = await store(uow, owner, task_in(home))
    signal.take()
    stale = attrs.evolve(task, version=task.version + 5)
    async with uow() as unit:
        assert not await unit.tasks.replace(attrs.evolve(stale, title="late"), stale)
        assert not await unit.tasks.remove(stale, owner.id, NOW)
        await unit.commit()
    assert signal.take() == [], "a write refused for its version tells nothing"


async def test_list_and_membership_writes_name_the_list_and_the_member(
    signalled: Signalled,
) -> None:
    uow, signal = signalled.uow, signalled.signal
    owner, friend = person("owner"), person("friend")
    signal.take()
    shared = await new_list(uow, owner, "Shared")
    assert signal.take() == [(lists(shared.id), frozenset({owner.id}))]
    default = await new_list(uow, friend, default=True)
    assert signal.take() == [(lists(default.id), frozenset({friend.id}))]

    async with uow() as unit:
        joined = Membership(list_id=shared.id, user_id=friend.id, role=Role.VIEWER, joined_at=NOW)
        assert await unit.lists.add_member(joined)
        await unit.commit()
    async with uow() as unit:
        assert await unit.lists.set_role(shared.id, friend.id, Role.EDITOR)
        await unit.commit()
    async with uow() as unit:
        assert await unit.lists.remove_member(shared.id, friend.id, NOW)
        await unit.commit()
    member = (lists(shared.id), frozenset({friend.id}))
    assert signal.take() == [member, member, member]

    renamed = attrs.evolve(shared, name="Renamed", version=shared.version + 1)
    async with uow() as unit:
        assert await unit.lists.replace(renamed, shared)
        await unit.commit()
    async with uow() as unit:
        assert await unit.lists.remove(renamed, owner.id, NOW)
        await unit.commit()
    assert signal.take() == [(lists(shared.id), frozenset())] * 2


async def test_erasing_an_account_wakes_everything(signalled: Signalled) -> None:
    uow, signal = signalled.uow, signalled.signal
    owner = person("owner")
    await new_list(uow, owner, "Mine")
    signal.take()
    async with uow() as unit:
        assert await unit.users.remove(owner.id, NOW)
        await unit.commit()
    assert signal.take() == ["*"]
