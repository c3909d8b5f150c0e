"""A household on the in-memory store: three people, the list and task use cases, a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from adapters.memory import MemoryStore
from domain.lists import InviteTerms, Role
from domain.queries import Sort, SortField, TaskQuery
from domain.tasks import TaskChanges, parse_changes
from domain.types import ListId, TaskId, UserId
from domain.users import Caller, Principal
from taskservice.services import ListUseCases, TaskUseCases, TrashUseCases
from tests.clock import FakeClock
from tests.sealing import CURSORS

ALICE = Caller.of(Principal(user_id=UserId("alice"), email="alice@example.com"))
BOB = Caller.of(Principal(user_id=UserId("bob"), email="bob@example.com"))
CAROL = Caller.of(Principal(user_id=UserId("carol"), email="carol@example.com"))
START = datetime(2030, 1, 1, tzinfo=UTC)


@attrs.define
class Household:
    """The store, its clock (a second a reading) and the use cases bound to them."""

    store: MemoryStore = attrs.Factory(MemoryStore)
    clock: FakeClock = attrs.Factory(lambda: FakeClock(START, tick=timedelta(seconds=1)))

    @property
    def lists(self) -> ListUseCases:
        """The list use cases on this store."""
        return ListUseCases(uow=self.store, clock=self.clock)

    @property
    def tasks(self) -> TaskUseCases:
        """The task use cases on this store."""
        return TaskUseCases(uow=self.store, clock=self.clock, cursors=CURSORS)

    @property
    def trash(self) -> TrashUseCases:
        """The trash use cases on this store."""
        return TrashUseCases(uow=self.store, clock=self.clock, cursors=CURSORS)

    async def new_list(self, owner: Caller, name: str = "Groceries") -> ListId:
        """A new list of `owner`'s."""
        return (await self.lists.create(owner, name)).list.id

    async def share(self, list_id: ListId, owner: Caller, member: Caller, role: Role) -> None:
        """`owner` invites `member` to the list in `role`, and `member` accepts."""
        issued = await self.lists.create_invite(owner, list_id, InviteTerms(role=role))
        await self.lists.accept_invite(member, issued.code)

    async def add(
        self, caller: Caller, title: str = "t", *, list_id: ListId | None = None, **more: object
    ) -> TaskId:
        """A new task of `caller`'s, in `list_id` (default: their default list)."""
        body: dict[str, object] = {"title": title, **more}
        if list_id is not None:
            body["list_id"] = list_id
        task = await self.tasks.create(caller, parse_changes(body, "create"))
        return task.id

    async def titles(self, caller: Caller, list_id: ListId) -> list[str]:
        """The titles of the list's tasks in manual order, subtasks under their parents."""
        query = TaskQuery(list_id=list_id, sort=Sort(field=SortField.POSITION, descending=False))
        page = await self.tasks.list_page(caller, attrs.evolve(query, limit=100))
        return [t.title for t in page.tasks]


def changes(**fields: object) -> TaskChanges:
    """Parsed changes of a patch."""
    return parse_changes(fields, "patch")
