"""Your data (SPEC §10): everything the service keeps of a user, as one JSON document, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs

from domain.lists import ListView, Member, view_values
from domain.personal_tokens import PersonalToken
from domain.queries import Sort, SortField, TaskQuery
from domain.tasks import Task, field_values
from domain.trash import TrashedTask, trashed_values
from domain.types import ListId
from domain.users import Principal, User
from taskservice.ports import Clock, UnitOfWorkFactory
from taskservice.services.personal_tokens import ensure_signed_in

T = TypeVar("T")
EXPORT_FORMAT: Final = "taskservice-export/1"
PAGE_SIZE: Final = 500
"""Tasks read per unit of work: the document is written while it is read, a page at a time."""
Dumps = Callable[[Any], bytes]
"""A JSON encoder of the driving adapter's (datetimes as RFC 3339)."""
# Oldest first, by creation and then id: a keyset each list's index (list_id, created_at, id)
# serves.
_ORDER: Final = Sort(field=SortField.CREATED_AT, descending=False)


def token_metadata(token: PersonalToken) -> dict[str, Any]:
    """What is shown of a personal access token anywhere: everything but the secret."""
    return {
        "id": token.id,
        "name": token.name,
        "scopes": sorted(scope.value for scope in token.scopes),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
    }


@attrs.frozen(kw_only=True)
class Export:
    """A user's data, ready to be written: the small parts read, the tasks read as it goes."""

    user: User
    has_password: bool
    identities: list[dict[str, str]]
    tokens: list[PersonalToken]
    lists: list[ListView]
    members: dict[ListId, list[Member]]
    exported_at: datetime
    pages: Callable[[], AsyncIterator[list[Task]]]
    trash_pages: Callable[[], AsyncIterator[list[TrashedTask]]]

    async def document(self, dumps: Dumps) -> AsyncIterator[bytes]:
        """The document in pieces: one object with a key per kind of data.

        `lists` are those the user belongs to, as they see them; `memberships` who belongs to
        each (the user among them), without e-mails, as any member sees them; `tasks` every task
        of those lists; `trash` the deleted tasks of the lists the user owns or owned (SPEC
        §8), newest first, each with who deleted it and when.
        """
        head = {
            "format": EXPORT_FORMAT,
            "exported_at": self.exported_at,
            "account": {
                "id": self.user.id,
                "email": self.user.email,
                "name": self.user.name,
                "created_at": self.user.created_at,
                "has_password": self.has_password,
                "identities": self.identities,
            },
            "personal_tokens": [token_metadata(t) for t in self.tokens],
            "lists": [view_values(view) for view in self.lists],
            "memberships": [
                {
                    "list_id": list_id,
                    "user_id": member.user_id,
                    "role": member.role,
                    "joined_at": member.joined_at,
                }
                for list_id, members in self.members.items()
                for member in members
            ],
        }
        # The head's closing brace is replaced by the arrays, each written page by page.
        yield dumps(head)[:-1] + b',"tasks":['
        async for piece in _items(self.pages(), field_values, dumps):
            yield piece
        yield b'],"trash":['
        async for piece in _items(self.trash_pages(), trashed_values, dumps):
            yield piece
        yield b"]}"


@attrs.frozen(kw_only=True)
class YourDataUseCases:
    """The export of everything a user has here."""

    uow: UnitOfWorkFactory
    clock: Clock
    page_size: int = PAGE_SIZE

    async def export(self, principal: Principal) -> Export:
        """The caller's data; the tasks are read a page per unit of work while it is written,
        so that no connection is held for the whole download and no more than a page is in
        memory."""
        ensure_signed_in(principal)
        user_id = principal.user_id
        now = self.clock.now()
        async with self.uow() as uow:
            user = await uow.users.get(user_id)
            has_password = await uow.users.password_hash(user_id) is not None
            identities = await uow.identities.of_user(user_id)
            tokens = await uow.personal_tokens.of_user(user_id)
            lists = await uow.lists.all_for(user_id)
            members = {view.list.id: await uow.lists.members(view.list.id) for view in lists}
        return Export(
            user=user or User(id=user_id, email=principal.email, created_at=now),
            has_password=has_password,
            identities=[{"issuer": i.issuer, "subject": i.subject} for i in identities],
            tokens=tokens,
            lists=lists,
            members=members,
            exported_at=now,
            pages=lambda: self._pages(principal),
            trash_pages=lambda: self._trash_pages(principal),
        )

    async def _pages(self, principal: Principal) -> AsyncIterator[list[Task]]:
        query = TaskQuery(sort=_ORDER, limit=self.page_size)
        while True:
            async with self.uow() as uow:
                page = await uow.tasks.page(principal.user_id, query)
            yield page
            if len(page) < self.page_size:
                return
            query = attrs.evolve(query, after=query.position_of(page[-1]))

    async def _trash_pages(self, principal: Principal) -> AsyncIterator[list[TrashedTask]]:
        after = None
        while True:
            async with self.uow() as uow:
                page = await uow.trash.of_owner(principal.user_id, after, self.page_size)
            yield page
            if len(page) < self.page_size:
                return
            after = page[-1].position


async def _items(
    pages: AsyncIterator[list[T]], values: Callable[[T], dict[str, Any]], dumps: Dumps
) -> AsyncIterator[bytes]:
    # The members of one JSON array, comma-separated across pages.
    first = True
    async for page in pages:
        if not page:
            continue
        items = b",".join(dumps(values(item)) for item in page)
        yield items if first else b"," + items
        first = False
