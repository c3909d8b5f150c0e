"""The change feed (SPEC §8): what a user's client replays to hold the tasks and lists they see.

Every write that changes what a member can see is numbered by its store (`changed`: a global
number that grows with every committed write, the same for every row one transaction writes).
A user's feed is, in order of position, one entry per entity they may see (an upsert carrying
its current state) and one per entity that left their sight (a delete): a task trashed or moved
out of one of their lists, a list deleted or their membership of it ended.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Final

import attrs

from domain.lists import ListView
from domain.tasks import Task

HISTORY_KEPT: Final = timedelta(days=30)
"""How long deletes (tombstones) stay in the feed; a cursor older than the purged ones is stale."""
FEED_LIMIT_DEFAULT: Final = 100
FEED_LIMIT_MAX: Final = 500


class Kind(enum.StrEnum):
    """What an entry is about; its value orders entries of one change number ("list" first)."""

    LIST = "list"
    TASK = "task"


class Op(enum.StrEnum):
    """What happened to the entity; at one (number, kind, id) a delete sorts before an upsert,
    so that a task moved between two lists the user sees ends as the upsert it is."""

    DELETE = "delete"
    UPSERT = "upsert"


@attrs.frozen(order=True)
class FeedPosition:
    """Where an entry sits in a user's feed: ordered by the change number, then kind, id, op."""

    changed: int
    kind: Kind
    id: int
    op: Op


@attrs.frozen(kw_only=True)
class Change:
    """One entry of a user's feed: an upsert carries the task or the list (as the user sees it),
    a delete neither."""

    kind: Kind
    id: int
    op: Op
    position: FeedPosition
    task: Task | None = None
    list: ListView | None = None


def latest_per_entity(entries: list[Change]) -> list[Change]:
    """`entries` (in feed order) with each entity once, at its last entry: its latest state."""
    last = {(e.kind, e.id): i for i, e in enumerate(entries)}
    return [e for i, e in enumerate(entries) if last[(e.kind, e.id)] == i]
