"""Lists, memberships and invites in a unit of work's private copy of the state."""

from __future__ import annotations

from datetime import datetime

import attrs

from adapters.memory.state import State
from domain.lists import Invite, ListView, Member, Membership, Role, TaskList
from domain.sync import Kind
from domain.types import ListId, UserId
from domain.users import User
from taskservice.ports import Touched


class MemoryListRepository:
    """Lists with their memberships and invites, in a unit of work's private copy of the state."""

    def __init__(self, state: State, touched: Touched | None = None) -> None:
        self._state = state
        self._touched = Touched() if touched is None else touched

    async def add(self, task_list: TaskList, owner: User) -> TaskList:
        """Store a new list with the next id and its owner's membership."""
        self._state.users.setdefault(owner.id, owner)
        self._state.last_list_id += 1
        stored = attrs.evolve(task_list, id=ListId(self._state.last_list_id))
        self._state.lists[stored.id] = stored
        self._state.memberships[(stored.id, stored.owner_id)] = Membership(
            list_id=stored.id, user_id=stored.owner_id, role=Role.OWNER, joined_at=stored.created_at
        )
        changed = self._state.next_change()
        self._state.list_changed[stored.id] = changed
        self._state.joined_changed[(stored.id, stored.owner_id)] = changed
        self._touched.member(stored.id, stored.owner_id)
        return stored

    async def ensure_default(self, default: TaskList, owner: User) -> TaskList:
        """The owner's default list, stored first if they have none."""
        for task_list in self._state.lists.values():
            if task_list.is_default and task_list.owner_id == default.owner_id:
                return task_list
        return await self.add(default, owner)

    async def get(self, user_id: UserId, list_id: ListId) -> ListView | None:
        """The list as the user sees it, if a member."""
        role = self._state.role(user_id, list_id)
        return None if role is None else self._view(self._state.lists[list_id], role)

    async def access(self, user_id: UserId, list_id: ListId) -> tuple[TaskList, Role] | None:
        """The list and the user's role in it, if a member."""
        role = self._state.role(user_id, list_id)
        return None if role is None else (self._state.lists[list_id], role)

    async def all_for(self, user_id: UserId) -> list[ListView]:
        """The user's lists: the default first, then by name, then by id."""
        views = [
            self._view(self._state.lists[list_id], m.role)
            for (list_id, member), m in self._state.memberships.items()
            if member == user_id
        ]
        return sorted(views, key=lambda v: (not v.list.is_default, v.list.name, v.list.id))

    async def owned_count(self, owner_id: UserId) -> int:
        """How many lists the user owns."""
        return sum(t.owner_id == owner_id for t in self._state.lists.values())

    async def replace(self, task_list: TaskList, previous: TaskList) -> bool:
        """Store `task_list` if the stored one is still at the version of `previous`."""
        current = self._state.lists.get(task_list.id)
        if current is None or current.version != previous.version:
            return False
        self._state.lists[task_list.id] = task_list
        self._state.list_changed[task_list.id] = self._state.next_change()
        self._touched.list(task_list.id)
        return True

    async def remove(self, task_list: TaskList, by: UserId, at: datetime) -> bool:
        """Delete the list, its memberships and invites if still at its version, its tasks
        moved to the trash."""
        current = self._state.lists.get(task_list.id)
        if current is None or current.version != task_list.version:
            return False
        state = self._state
        changed = state.next_change()
        for list_id, member in state.memberships:
            if list_id == task_list.id:
                state.tombstone(changed, Kind.LIST, list_id, user_id=member, at=at)
        state.bin([t for t in state.tasks.values() if t.list_id == task_list.id], by, at, None)
        state.forget({task_list.id})
        self._touched.list(task_list.id)
        return True

    async def members(self, list_id: ListId) -> list[Member]:
        """The list's members with their names and e-mails: the owner first, then by joining."""
        chosen = [m for (lid, _), m in self._state.memberships.items() if lid == list_id]
        chosen.sort(key=lambda m: (m.role is not Role.OWNER, m.joined_at, m.user_id))
        return [self._member(m) for m in chosen]

    async def member_count(self, list_id: ListId) -> int:
        """How many members the list has."""
        return sum(lid == list_id for lid, _ in self._state.memberships)

    async def add_member(self, membership: Membership) -> bool:
        """Store the membership unless its user is a member already."""
        key = (membership.list_id, membership.user_id)
        if key in self._state.memberships:
            return False
        self._state.memberships[key] = membership
        self._joined(key)
        self._touched.member(membership.list_id, membership.user_id)
        return True

    async def set_role(self, list_id: ListId, user_id: UserId, role: Role) -> bool:
        """Give the member a new role; whether they are a member."""
        held = self._state.memberships.get((list_id, user_id))
        if held is None:
            return False
        self._state.memberships[(list_id, user_id)] = attrs.evolve(held, role=role)
        self._joined((list_id, user_id))
        self._touched.member(list_id, user_id)
        return True

    async def remove_member(self, list_id: ListId, user_id: UserId, now: datetime) -> bool:
        """End the membership; whether there was one."""
        state = self._state
        if state.memberships.pop((list_id, user_id), None) is None:
            return False
        del state.joined_changed[(list_id, user_id)]
        changed = state.next_change()
        state.list_changed[list_id] = changed
        state.tombstone(changed, Kind.LIST, list_id, user_id=user_id, at=now)
        self._touched.member(list_id, user_id)
        return True

    async def add_invite(self, invite: Invite) -> None:
        """Store a new invite."""
        self._state.invites[invite.code_hash] = invite

    async def invites(self, list_id: ListId, now: datetime) -> list[Invite]:
        """The list's invites open at `now`, oldest first."""
        return sorted(
            (i for i in self._state.invites.values() if i.list_id == list_id and i.is_open(now)),
            key=lambda i: (i.created_at, i.code_hash),
        )

    async def invite(self, code_hash: str) -> Invite | None:
        """The invite under `code_hash`, expired or not."""
        return self._state.invites.get(code_hash)

    async def take_invite(self, code_hash: str) -> bool:
        """Delete the invite; whether this call did."""
        return self._state.invites.pop(code_hash, None) is not None

    async def purge_invites(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` invites expired by `expired_by`, earliest first."""
        expired = sorted(
            (i for i in self._state.invites.values() if i.expires_at <= expired_by),
            key=lambda i: i.expires_at,
        )[:limit]
        for invite in expired:
            del self._state.invites[invite.code_hash]
        return len(expired)

    def _joined(self, key: tuple[ListId, UserId]) -> None:
        # A membership made or changed: the member's view of the list, and every member's
        # count of members, changed.
        changed = self._state.next_change()
        self._state.joined_changed[key] = changed
        self._state.list_changed[key[0]] = changed

    def _view(self, task_list: TaskList, role: Role) -> ListView:
        members = sum(lid == task_list.id for lid, _ in self._state.memberships)
        counts = self._state.counts({task_list.id})
        return ListView(list=task_list, role=role, members=members, counts=counts)

    def _member(self, membership: Membership) -> Member:
        user = self._state.users.get(membership.user_id)
        return Member(
            user_id=membership.user_id,
            name=None if user is None else user.name,
            email=None if user is None else user.email,
            role=membership.role,
            joined_at=membership.joined_at,
        )
