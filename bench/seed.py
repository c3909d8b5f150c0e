"""Deterministic rows for the benchmark's users and tasks, shaped as the service stores them."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import attrs
import fractional_indexing
import orjson

from domain import queries
from domain.tasks import Task
from domain.types import TaskId, UserId

USER_10K: Final = "bench-10k"
USER_100K: Final = "bench-100k"
USER_LISTS: Final = "bench-lists"
"""A user with LISTS_OF_MANY lists and 10,000 tasks spread over them."""
USER_EDITOR: Final = "bench-editor"
"""An editor of one of USER_LISTS's lists (SHARED_LIST), with an Inbox of their own."""
LISTS_OF_MANY: Final = 20
SHARED_LIST: Final = "List 2"
SMALL_USERS: Final = 1000
SMALL_USER_TASKS: Final = 10
TASK_SPACING: Final = timedelta(minutes=5)
DEFAULT_LIST: Final = "Inbox"

USER_COLUMNS: Final = ("id", "email", "name", "created_at")
LIST_COLUMNS: Final = ("owner_id", "name", "is_default", "version", "created_at", "updated_at")
MEMBERSHIP_COLUMNS: Final = ("list_id", "user_id", "role", "joined_at")
COUNT_TASKS: Final = (
    "UPDATE lists SET "
    "pending = (SELECT count(*) FROM tasks WHERE list_id = lists.id AND NOT completed), "
    "completed = (SELECT count(*) FROM tasks WHERE list_id = lists.id AND completed)"
)
"""The counters every write keeps, filled once after the tasks are copied in."""
TASK_COLUMNS: Final = (
    "user_id",
    "title",
    "description",
    "completed",
    "completed_at",
    "priority",
    "due_date",
    "due_at",
    "tags",
    "version",
    "created_at",
    "updated_at",
)
PLACEMENT_COLUMNS: Final = ("list_id", "position", "created_by")
"""Where each task sits, after TASK_COLUMNS: its list, its key there, its creator (the owner)."""
_VERBS: Final = ("Call", "Write", "Review", "Plan", "Fix", "Buy", "Send", "Book", "Clean", "Read")
_NOUNS: Final = ("report", "invoice", "dentist", "groceries", "slides", "tickets", "garden")
_TAGS: Final = ("work", "home", "urgent", "later", "errand", "health", "money", "family")
_SENTENCE: Final = "Remember to bring the documents and check the notes from last week's meeting."

UserRow = tuple[str, str | None, str | None, datetime]
TaskRow = tuple[
    str,
    str,
    str | None,
    bool,
    datetime | None,
    int,
    date | None,
    datetime | None,
    str,
    int,
    datetime,
    datetime,
]


@attrs.frozen(kw_only=True)
class Plan:
    """Who gets how many tasks, in how many lists, and who edits whose list."""

    task_counts: dict[str, int]
    list_counts: dict[str, int] = attrs.Factory(dict)
    """Lists per user, their Inbox included (1 when not named)."""
    editors: dict[str, tuple[str, str]] = attrs.Factory(dict)
    """Editor → (owner, list name) they edit."""

    @classmethod
    def standard(cls) -> Plan:
        """One user with 10,000 tasks, one with 100,000, one with 10,000 in 20 lists, the
        editor of one of those lists (with 10 tasks of their own), and 1,000 users with 10."""
        counts = {USER_10K: 10_000, USER_100K: 100_000, USER_LISTS: 10_000, USER_EDITOR: 10}
        counts |= {small_user(i): SMALL_USER_TASKS for i in range(SMALL_USERS)}
        return cls(
            task_counts=counts,
            list_counts={USER_LISTS: LISTS_OF_MANY},
            editors={USER_EDITOR: (USER_LISTS, SHARED_LIST)},
        )

    def list_names(self, user: str) -> list[str]:
        """The names of the user's lists, their Inbox first."""
        count = self.list_counts.get(user, 1)
        return [DEFAULT_LIST, *(f"List {n}" for n in range(2, count + 1))]


def small_user(index: int) -> str:
    """The id of the `index`-th user with few tasks."""
    return f"bench-u{index:04d}"


def user_rows(plan: Plan, now: datetime) -> list[UserRow]:
    """One row per planned user, provisioned as a token user would be (no local account)."""
    created = now - timedelta(days=400)
    return [(user, f"{user}@example.com", None, created) for user in plan.task_counts]


def list_rows(plan: Plan, now: datetime) -> list[tuple[Any, ...]]:
    """Every user's lists (LIST_COLUMNS), their Inbox the default."""
    created = now - timedelta(days=400)
    return [
        (user, name, name == DEFAULT_LIST, 1, created, created)
        for user in plan.task_counts
        for name in plan.list_names(user)
    ]


def membership_rows(
    plan: Plan, list_ids: dict[tuple[str, str], int], now: datetime
) -> list[tuple[Any, ...]]:
    """Each list's owner, and the editors (MEMBERSHIP_COLUMNS)."""
    joined = now - timedelta(days=400)
    owners = [(list_id, owner, "owner", joined) for (owner, _), list_id in list_ids.items()]
    editors = [
        (list_ids[shared], editor, "editor", joined) for editor, shared in plan.editors.items()
    ]
    return owners + editors


def placed(rows: Iterable[TaskRow], list_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """Each row followed by PLACEMENT_COLUMNS: the owner's lists in turn, each task after the
    last of its list (keys as the service makes them), created by the owner."""
    last: dict[int, str | None] = dict.fromkeys(list_ids)
    for i, row in enumerate(rows):
        list_id = list_ids[i % len(list_ids)]
        last[list_id] = key = fractional_indexing.generate_key_between(last[list_id], None)
        yield (*row, list_id, key, row[0])


def _search_text(row: tuple[Any, ...]) -> str:
    """The folded search text, by the domain's own rule (domain.queries.search_text)."""
    rule = getattr(queries, "search_text", None)
    if rule is None:
        raise RuntimeError("tasks.search_text exists but domain.queries.search_text does not")
    task = Task(
        id=TaskId(1),
        user_id=UserId(row[0]),
        title=row[1],
        description=row[2],
        created_at=row[10],
        updated_at=row[11],
    )
    return str(rule(task))


DERIVED_TASK_COLUMNS: Final[dict[str, Callable[[tuple[Any, ...]], Any]]] = {
    "search_text": _search_text,
}
"""Columns a later migration added whose value follows from the others, filled when present."""


def with_derived(
    rows: Iterable[tuple[Any, ...]], names: Sequence[str]
) -> Iterator[tuple[Any, ...]]:
    """Each row followed by the values of the derived columns `names`, in that order."""
    makers = [DERIVED_TASK_COLUMNS[name] for name in names]
    for row in rows:
        yield (*row, *(make(row) for make in makers))


def task_rows(user: str, count: int, now: datetime, rng: random.Random) -> Iterator[TaskRow]:
    """`count` tasks of `user`, oldest first, so that ids grow with created_at."""
    first = now - count * TASK_SPACING
    for i in range(count):
        created = first + i * TASK_SPACING
        yield _task_row(user, i, created, min(now, created + _jitter(rng)), rng)


def _jitter(rng: random.Random) -> timedelta:
    return timedelta(seconds=rng.randrange(0, 3 * 86_400)) if rng.random() < 0.4 else timedelta()


def _task_row(
    user: str, i: int, created: datetime, updated: datetime, rng: random.Random
) -> TaskRow:
    completed = rng.random() < 0.3
    due_date, due_at = _due(created, rng)
    tags = rng.sample(_TAGS, rng.randrange(4))
    return (
        user,
        f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)} #{i}",
        _SENTENCE if rng.random() < 0.5 else None,
        completed,
        updated if completed else None,
        rng.randrange(4),
        due_date,
        due_at,
        orjson.dumps(tags).decode(),
        1 if updated == created else 1 + rng.randrange(1, 4),
        created,
        updated,
    )


def _due(created: datetime, rng: random.Random) -> tuple[date | None, datetime | None]:
    draw = rng.random()
    if draw < 0.2:
        return (created + timedelta(days=rng.randrange(1, 30))).date(), None
    if draw < 0.3:
        moment = created + timedelta(hours=rng.randrange(1, 240))
        return None, moment.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return None, None
