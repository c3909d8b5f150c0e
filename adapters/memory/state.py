"""The state every in-memory repository works on, and the reads that several of them share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from domain.accounts import Account
from domain.idempotency import IdempotencyRecord
from domain.lists import Invite, Membership, Role, TaskList
from domain.queries import TaskCounts
from domain.tasks import Task
from domain.types import ListId, TaskId, UserId
from domain.users import User


@attrs.define
class State:
    """Everything a MemoryStore holds; a unit of work changes a copy and publishes it whole."""

    tasks: dict[TaskId, Task] = attrs.Factory(dict)
    users: dict[UserId, User] = attrs.Factory(dict)
    accounts: dict[str, Account] = attrs.Factory(dict)
    replies: dict[tuple[UserId, str], IdempotencyRecord] = attrs.Factory(dict)
    # Ended sessions by (user, session id) with their expiry, and each user's cut-off.
    ended: dict[tuple[UserId, str], datetime] = attrs.Factory(dict)
    ended_before: dict[UserId, datetime] = attrs.Factory(dict)
    lists: dict[ListId, TaskList] = attrs.Factory(dict)
    memberships: dict[tuple[ListId, UserId], Membership] = attrs.Factory(dict)
    invites: dict[str, Invite] = attrs.Factory(dict)
    last_id: int = 0
    last_list_id: int = 0

    def copy(self) -> State:
        """A copy whose dictionaries can change without touching this state's."""
        return State(
            **{name: _copied(value) for name, value in attrs.asdict(self, recurse=False).items()}
        )

    def role(self, user_id: UserId, list_id: ListId) -> Role | None:
        """`user_id`'s role in `list_id`, None for a non-member."""
        membership = self.memberships.get((list_id, user_id))
        return None if membership is None else membership.role

    def member_lists(self, user_id: UserId) -> set[ListId]:
        """The lists `user_id` is a member of."""
        return {list_id for list_id, member in self.memberships if member == user_id}

    def counts(self, lists: set[ListId]) -> TaskCounts:
        """The pending and completed tasks of `lists`, summed."""
        chosen = [t for t in self.tasks.values() if t.list_id in lists]
        done = sum(t.completed for t in chosen)
        return TaskCounts(pending=len(chosen) - done, completed=done)


def _copied(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value
