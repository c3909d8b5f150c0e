"""Deterministic rows for the benchmark's users and tasks, shaped as the service stores them."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import attrs
import orjson

from domain import queries
from domain.tasks import Task
from domain.types import TaskId, UserId

USER_10K: Final = "bench-10k"
USER_100K: Final = "bench-100k"
SMALL_USERS: Final = 1000
SMALL_USER_TASKS: Final = 10
TASK_SPACING: Final = timedelta(minutes=5)

USER_COLUMNS: Final = ("id", "email", "name", "created_at")
USER_COUNTERS: Final = ("tasks_pending", "tasks_completed")
COUNT_TASKS: Final = (
    "UPDATE users SET "
    "tasks_pending = (SELECT count(*) FROM tasks WHERE user_id = users.id AND NOT completed), "
    "tasks_completed = (SELECT count(*) FROM tasks WHERE user_id = users.id AND completed)"
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
    """Who gets how many tasks."""

    task_counts: dict[str, int]

    @classmethod
    def standard(cls) -> Plan:
        """One user with 10,000 tasks, one with 100,000, and 1,000 users with 10 each."""
        counts = {USER_10K: 10_000, USER_100K: 100_000}
        counts |= {small_user(i): SMALL_USER_TASKS for i in range(SMALL_USERS)}
        return cls(task_counts=counts)


def small_user(index: int) -> str:
    """The id of the `index`-th user with few tasks."""
    return f"bench-u{index:04d}"


def user_rows(plan: Plan, now: datetime) -> list[UserRow]:
    """One row per planned user, provisioned as a token user would be (no local account)."""
    created = now - timedelta(days=400)
    return [(user, f"{user}@example.com", None, created) for user in plan.task_counts]


def _search_text(row: TaskRow) -> str:
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


DERIVED_TASK_COLUMNS: Final[dict[str, Callable[[TaskRow], Any]]] = {
    "search_text": _search_text,
}
"""Columns a later migration added whose value follows from the others, filled when present."""


def with_derived(rows: Iterable[TaskRow], names: Sequence[str]) -> Iterator[tuple[Any, ...]]:
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
