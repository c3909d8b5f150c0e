"""Domain objects as table rows and back, derived from the domain's own field definitions.

A task's columns are named as its fields and read in their order (domain.tasks.TASK_FIELDS), so
a new field needs a column and nothing here, unless it is stored in another form than it has in
the domain, as priority (its rank) and tags (a JSON array) are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

import attrs
from attrs import AttrsInstance
from sqlalchemy import Column, Table

from adapters.persistence.executors import Row
from adapters.persistence.tables import idempotency_keys, invites, lists, tasks, users
from domain.idempotency import IdempotencyRecord, Reply
from domain.lists import Invite, ListView, Member, Role, TaskList
from domain.queries import TaskCounts, search_text
from domain.tasks import PRIORITIES_BY_RANK, TASK_FIELDS, Task, field_values
from domain.types import ListId, UserId
from domain.users import User

_KEYS: Final = ("id", "user_id")
"""Task columns that statements set themselves: the id is the table's, the owner a parameter."""
_NAMES: Final = tuple(field.name for field in TASK_FIELDS)
TASK_COLUMNS: Final = tuple(tasks.c[name] for name in _NAMES)
"""What a task is read as, in the positions task_from_row reads them from."""
WRITTEN: Final = (*(name for name in _NAMES if name not in _KEYS), "search_text")
"""The task columns every insert and update writes, all but the keys."""
RECORD_COLUMNS: Final = (
    idempotency_keys.c.user_id,
    idempotency_keys.c.key,
    idempotency_keys.c.fingerprint,
    idempotency_keys.c.status,
    idempotency_keys.c.headers,
    idempotency_keys.c.body,
    idempotency_keys.c.created_at,
)

T = TypeVar("T", bound=AttrsInstance)


@attrs.frozen
class TableMapping(Generic[T]):
    """An attrs class whose fields are columns of the same names: which to read, and the object
    of a row that starts with them."""

    columns: tuple[Column[Any], ...]
    build: Callable[[Row], T]

    @classmethod
    def of(cls, kind: type[T], table: Table) -> TableMapping[T]:
        """The mapping of attrs class `kind` to `table`."""
        names = tuple(field.name for field in attrs.fields(kind))

        def build(row: Row) -> T:
            return kind(**dict(zip(names, row, strict=False)))

        return cls(tuple(table.c[name] for name in names), build)


USERS: Final = TableMapping.of(User, users)
USER_COLUMNS: Final = USERS.columns
user_from_row: Final = USERS.build
LISTS: Final = TableMapping.of(TaskList, lists)
LIST_COLUMNS: Final = LISTS.columns
list_from_row: Final = LISTS.build
INVITE_COLUMNS: Final = tuple(invites.c[field.name] for field in attrs.fields(Invite))
_LIST_WIDTH: Final = len(LIST_COLUMNS)

_WIDTH: Final = len(_NAMES)
_PRIORITY: Final = _NAMES.index("priority")
_TAGS: Final = _NAMES.index("tags")


def task_values(task: Task) -> dict[str, object]:
    """The values of the WRITTEN columns for `task`, by column name."""
    values = field_values(task)
    for key in _KEYS:
        del values[key]
    values["priority"] = task.priority.rank
    values["tags"] = list(task.tags)
    values["search_text"] = search_text(task)
    return values


def task_from_row(row: Row) -> Task:
    """The task of a row that starts with TASK_COLUMNS (a page's counts may follow them).

    Positional, the one place that is: it runs for every row of every list, and attrs' __init__
    takes a third of the time with positions that it takes with keywords.
    """
    values = list(row[:_WIDTH])
    # Indexed here rather than through a classmethod, whose call cost 1,500 instructions a row.
    values[_PRIORITY] = PRIORITIES_BY_RANK[values[_PRIORITY]]
    values[_TAGS] = tuple(values[_TAGS])
    return Task(*values)


def record_from_row(row: Row) -> IdempotencyRecord:
    """The idempotency record of a row of RECORD_COLUMNS."""
    user_id, key, fingerprint, status, headers, body, created_at = row
    return IdempotencyRecord(
        user_id=UserId(user_id),
        key=key,
        fingerprint=fingerprint,
        reply=Reply(status=status, headers=headers, body=bytes(body)),
        created_at=created_at,
    )


def view_from_row(row: Row) -> ListView:
    """The list view of a row of LIST_COLUMNS, then role, member count, pending, completed."""
    role, members, pending, completed = row[_LIST_WIDTH:]
    return ListView(
        list=list_from_row(row),
        role=Role(role),
        members=members,
        counts=TaskCounts(pending=pending, completed=completed),
    )


def member_from_row(row: Row) -> Member:
    """The member of a row (user_id, name, email, role, joined_at)."""
    user_id, name, email, role, joined_at = row
    return Member(
        user_id=UserId(user_id), name=name, email=email, role=Role(role), joined_at=joined_at
    )


def invite_from_row(row: Row) -> Invite:
    """The invite of a row of INVITE_COLUMNS (the fields of Invite, in their order)."""
    list_id, role, expires_at, created_at, created_by, code_hash = row
    return Invite(
        list_id=ListId(list_id),
        role=Role(role),
        expires_at=expires_at,
        created_at=created_at,
        created_by=UserId(created_by),
        code_hash=code_hash,
    )
