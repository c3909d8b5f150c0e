"""The state every in-memory repository works on, and the reads that several of them share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from domain.accounts import Account
from domain.idempotency import IdempotencyRecord
from domain.lists import Invite, Membership, Role, TaskList
from domain.personal_tokens import PersonalToken
from domain.queries import TaskCounts
from domain.sync import Kind
from domain.tasks import Task
from domain.trash import TrashedTask
from domain.types import ListId, TaskId, UserId
from domain.users import User


@attrs.frozen
class Tombstone:
    """That an entity left some member's sight (domain.sync): a task left `list_id`, or a list
    is gone for `user_id`."""

    changed: int
    kind: Kind
    entity_id: int
    list_id: ListId | None
    user_id: UserId | None
    at: datetime


@attrs.define
class State:
    """Everything a MemoryStore holds; a unit of work changes a copy and publishes it whole."""

    tasks: dict[TaskId, Task] = attrs.Factory(dict)
    # Deleted tasks by id (SPEC §8): out of `tasks`, so no read of tasks sees them.
    trash: dict[TaskId, TrashedTask] = attrs.Factory(dict)
    users: dict[UserId, User] = attrs.Factory(dict)
    accounts: dict[str, Account] = attrs.Factory(dict)
    replies: dict[tuple[UserId, str], IdempotencyRecord] = attrs.Factory(dict)
    # Ended sessions by (user, session id) with their expiry, and each user's cut-off.
    ended: dict[tuple[UserId, str], datetime] = attrs.Factory(dict)
    ended_before: dict[UserId, datetime] = attrs.Factory(dict)
    lists: dict[ListId, TaskList] = attrs.Factory(dict)
    memberships: dict[tuple[ListId, UserId], Membership] = attrs.Factory(dict)
    invites: dict[str, Invite] = attrs.Factory(dict)
    # Personal access tokens by the hash of their secret; identities by (issuer, subject).
    tokens: dict[str, PersonalToken] = attrs.Factory(dict)
    identities: dict[tuple[str, str], UserId] = attrs.Factory(dict)
    last_id: int = 0
    last_list_id: int = 0
    # The change feed: the number of the last write, the number each task, list and membership
    # was last written at, what left someone's sight, and the greatest number purged of that.
    last_change: int = 0
    task_changed: dict[TaskId, int] = attrs.Factory(dict)
    list_changed: dict[ListId, int] = attrs.Factory(dict)
    joined_changed: dict[tuple[ListId, UserId], int] = attrs.Factory(dict)
    tombstones: dict[int, Tombstone] = attrs.Factory(dict)
    horizon: int = 0

    def copy(self) -> State:
        """A copy whose dictionaries can change without touching this state's."""
        return State(
            **{name: _copied(value) for name, value in attrs.asdict(self, recurse=False).items()}
        )

    def erase(self, user_id: UserId, now: datetime) -> bool:
        """Remove the user and everything that refers to them, as the database's cascade does:
        the lists they own (with those lists' tasks, memberships and invites, so that their
        members lose access, which their feeds show) and the trash of every list they own or
        owned, their memberships of other lists, and their own records."""
        if self.users.pop(user_id, None) is None:
            return False
        owned = {i for i, task_list in self.lists.items() if task_list.owner_id == user_id}
        changed = self.next_change()
        for list_id, member in list(self.memberships):
            if list_id in owned and member != user_id:
                self.tombstone(changed, Kind.LIST, list_id, user_id=member, at=now)
            elif member == user_id:
                # One member fewer: every other member's view of the list changed.
                self.list_changed[list_id] = changed
        self.forget(owned, user_id)
        self.trash = {k: t for k, t in self.trash.items() if t.task.user_id != user_id}
        self.accounts = {k: a for k, a in self.accounts.items() if a.user.id != user_id}
        self.replies = {k: r for k, r in self.replies.items() if k[0] != user_id}
        self.ended = {k: e for k, e in self.ended.items() if k[0] != user_id}
        self.ended_before.pop(user_id, None)
        self.tokens = {k: t for k, t in self.tokens.items() if t.user_id != user_id}
        self.identities = {k: u for k, u in self.identities.items() if u != user_id}
        return True

    def forget(self, lists: set[ListId], member: UserId | None = None) -> None:
        """Drop `lists` with their tasks, memberships and invites, and `member`'s memberships."""
        self.lists = {i: v for i, v in self.lists.items() if i not in lists}
        self.list_changed = {i: n for i, n in self.list_changed.items() if i not in lists}
        gone = {k for k, t in self.tasks.items() if t.list_id in lists}
        self.tasks = {k: t for k, t in self.tasks.items() if k not in gone}
        self.task_changed = {k: n for k, n in self.task_changed.items() if k not in gone}
        self.memberships = {
            k: m for k, m in self.memberships.items() if k[0] not in lists and k[1] != member
        }
        self.joined_changed = {
            k: n for k, n in self.joined_changed.items() if k in self.memberships
        }
        self.invites = {k: v for k, v in self.invites.items() if v.list_id not in lists}

    def next_change(self) -> int:
        """The number of a new write: units of work run one at a time, so commit order is
        number order."""
        self.last_change += 1
        return self.last_change

    def tombstone(
        self,
        changed: int,
        kind: Kind,
        entity_id: int,
        *,
        list_id: ListId | None = None,
        user_id: UserId | None = None,
        at: datetime,
    ) -> None:
        """Record that `entity_id` left the sight of `list_id`'s members or of `user_id`."""
        key = max(self.tombstones, default=0) + 1
        self.tombstones[key] = Tombstone(
            changed=changed, kind=kind, entity_id=entity_id, list_id=list_id, user_id=user_id, at=at
        )

    def role(self, user_id: UserId, list_id: ListId) -> Role | None:
        """`user_id`'s role in `list_id`, None for a non-member."""
        membership = self.memberships.get((list_id, user_id))
        return None if membership is None else membership.role

    def member_lists(self, user_id: UserId) -> set[ListId]:
        """The lists `user_id` is a member of."""
        return {list_id for list_id, member in self.memberships if member == user_id}

    def bin(self, tasks: list[Task], by: UserId, at: datetime, root: TaskId | None) -> None:
        """Move `tasks` from the tasks to the trash, deleted by `by` at `at`, each the root of
        its subtasks or, when given, all of them `root`'s."""
        for task in tasks:
            del self.tasks[task.id]
            del self.task_changed[task.id]
            self.trash[task.id] = TrashedTask(
                task=task,
                deleted_at=at,
                deleted_by=by,
                root=root or TaskId(task.parent_id or task.id),
            )

    def counts(self, lists: set[ListId]) -> TaskCounts:
        """The pending and completed tasks of `lists`, summed."""
        chosen = [t for t in self.tasks.values() if t.list_id in lists]
        done = sum(t.completed for t in chosen)
        return TaskCounts(pending=len(chosen) - done, completed=done)


def _copied(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value
