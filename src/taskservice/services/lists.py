"""The list use cases (SPEC §7): lists, invites and members, each judged by the policy first."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Final

import attrs

from domain.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from domain.lists import (
    INVITE_CODE_BYTES,
    LISTS_PER_OWNER_MAX,
    MEMBERS_MAX,
    OPEN_INVITES_MAX,
    Invite,
    InviteTerms,
    IssuedInvite,
    ListView,
    Member,
    Members,
    Membership,
    Role,
    TaskList,
    hash_invite_code,
)
from domain.policy import (
    ROLE_REFUSED,
    Action,
    authorize,
    check_deletable,
    check_removable,
    check_role_changeable,
    check_shareable,
    may_remove_member,
    may_see_emails,
)
from domain.queries import TaskCounts
from domain.types import ListId, UserId
from domain.users import Caller
from taskservice.ports import Clock, UnitOfWork, UnitOfWorkFactory
from taskservice.services.access import caller_user, default_list, list_for
from taskservice.services.sync import purge_history
from taskservice.services.tasks import ExpectedVersions
from taskservice.services.trash import purge_expired

INVITE_NOT_FOUND: Final = "No such invite."
"""For an unknown, used, withdrawn or expired code alike."""
MEMBER_NOT_FOUND: Final = "No such member."
# Without If-Match a rename is last-writer-wins; a lost race is retried on the fresh row.
_WRITE_ATTEMPTS: Final = 5
# Expired invites deleted per new invite: more than one, so purging outpaces inviting.
_PURGE_BATCH: Final = 100


@attrs.frozen(kw_only=True)
class InvitePreview:
    """An invite as the person holding its code sees it before accepting: what they would join."""

    list_id: ListId
    name: str
    role: Role
    expires_at: datetime
    members: int
    is_member: bool
    """The holder already belongs to the list (accepting would be refused)."""


@attrs.frozen(kw_only=True)
class ListUseCases:
    """Every operation on lists, their invites and their members, bound to storage and clock.

    Every method first applies the path rule and the token's scopes (`caller.authorize`:
    Forbidden unless the path's user is the token's and its scopes allow the action), then finds the caller's role in the list and asks the policy: no
    role → NotFound("No such list."), byte-identical to a missing list; a role that does not
    permit the action → Forbidden. A refused call writes nothing.
    """

    uow: UnitOfWorkFactory
    clock: Clock

    async def create(self, caller: Caller, name: str) -> ListView:
        """A new list named `name` (parsed: domain.lists.parse_list_fields) owned by the caller.

        Conflict when the caller already owns LISTS_PER_OWNER_MAX lists.
        """
        caller.authorize(Action.MANAGE_LIST)
        now = self.clock.now()
        async with self.uow() as uow:
            if await uow.lists.owned_count(caller.owner) >= LISTS_PER_OWNER_MAX:
                raise Conflict(
                    f"You already own {LISTS_PER_OWNER_MAX} lists, the most there can be."
                )
            # Every user has their default list before any other.
            await default_list(uow, caller, now)
            new = TaskList.create(owner_id=caller.owner, name=name, now=now)
            stored = await uow.lists.add(new, caller_user(caller, now))
            await uow.commit()
        return ListView(list=stored, role=Role.OWNER, members=1, counts=TaskCounts())

    async def list_all(self, caller: Caller) -> list[ListView]:
        """Every list the caller owns or belongs to: the default list first (made on first
        need), then by name."""
        caller.authorize(Action.READ)
        async with self.uow() as uow:
            views = await uow.lists.all_for(caller.owner)
            if views and views[0].list.is_default:
                return views
            # First need of the default list: made once, then read with the others.
            await default_list(uow, caller, self.clock.now())
            views = await uow.lists.all_for(caller.owner)
            await uow.commit()
        return views

    async def get(self, caller: Caller, list_id: ListId) -> ListView:
        """One list the caller belongs to (any role)."""
        caller.authorize(Action.READ)
        async with self.uow() as uow:
            return await _view(uow, caller, list_id, Action.READ)

    async def rename(
        self, caller: Caller, list_id: ListId, name: str, *, expected: ExpectedVersions = None
    ) -> ListView:
        """Rename the list (owner); PreconditionFailed unless its version is one of `expected`
        (when given). The same name changes nothing."""
        caller.authorize(Action.MANAGE_LIST)
        for _ in range(_WRITE_ATTEMPTS):
            async with self.uow() as uow:
                task_list, _ = await list_for(uow, caller, list_id, Action.MANAGE_LIST)
                _check(task_list.version, expected)
                renamed = task_list.renamed(name, self.clock.now())
                if renamed is task_list:
                    return await _view(uow, caller, list_id, Action.READ)
                if await uow.lists.replace(renamed, previous=task_list):
                    view = await _view(uow, caller, list_id, Action.READ)
                    await uow.commit()
                    return view
            _raise_if_conditional(expected)
        raise PreconditionFailed("The list kept changing; try again.")

    async def delete(
        self, caller: Caller, list_id: ListId, *, expected: ExpectedVersions = None
    ) -> ListView:
        """Delete the list with its members and invites (owner), its tasks moved to the owner's
        trash, returning it as it was; Conflict for the default list."""
        caller.authorize(Action.MANAGE_LIST)
        for _ in range(_WRITE_ATTEMPTS):
            async with self.uow() as uow:
                view = await _view(uow, caller, list_id, Action.MANAGE_LIST)
                check_deletable(view.list)
                _check(view.list.version, expected)
                now = self.clock.now()
                if await uow.lists.remove(view.list, caller.owner, now):
                    await purge_expired(uow, now)
                    await uow.commit()
                    return view
            _raise_if_conditional(expected)
        raise PreconditionFailed("The list kept changing; try again.")

    async def create_invite(
        self, caller: Caller, list_id: ListId, terms: InviteTerms
    ) -> IssuedInvite:
        """A new invite to the list (owner) with its code, shown this once; Conflict for the
        default list (never shared) or when OPEN_INVITES_MAX invites are open."""
        caller.authorize(Action.MANAGE_LIST)
        now = self.clock.now()
        async with self.uow() as uow:
            task_list, _ = await list_for(uow, caller, list_id, Action.MANAGE_LIST)
            check_shareable(task_list)
            await uow.lists.purge_invites(now, _PURGE_BATCH)
            if len(await uow.lists.invites(list_id, now)) >= OPEN_INVITES_MAX:
                raise Conflict(
                    f"This list has {OPEN_INVITES_MAX} open invites, the most there can be: "
                    "withdraw one first."
                )
            code = secrets.token_urlsafe(INVITE_CODE_BYTES)
            invite = Invite(
                list_id=list_id,
                role=terms.role,
                expires_at=now + terms.lifetime,
                created_at=now,
                created_by=caller.owner,
                code_hash=hash_invite_code(code),
            )
            await uow.lists.add_invite(invite)
            await uow.commit()
        return IssuedInvite(invite=invite, code=code)

    async def invites(self, caller: Caller, list_id: ListId) -> list[Invite]:
        """The list's open invites, oldest first (owner): role and expiry, never a code."""
        caller.authorize(Action.READ)
        async with self.uow() as uow:
            await list_for(uow, caller, list_id, Action.MANAGE_LIST)
            return await uow.lists.invites(list_id, self.clock.now())

    async def withdraw_invite(self, caller: Caller, list_id: ListId, code: str) -> Invite:
        """Withdraw the list's open invite with `code` (owner), returning it; NotFound ("No such
        invite.") for a code of no open invite of this list."""
        return await self.withdraw_invite_by_hash(caller, list_id, hash_invite_code(code))

    async def withdraw_invite_by_hash(
        self, caller: Caller, list_id: ListId, code_hash: str
    ) -> Invite:
        """`withdraw_invite` for the invite stored under `code_hash` (`Invite.code_hash`): how a
        page that lists the open invites, which never shows their codes, names one."""
        caller.authorize(Action.MANAGE_LIST)
        async with self.uow() as uow:
            await list_for(uow, caller, list_id, Action.MANAGE_LIST)
            invite = await uow.lists.invite(code_hash)
            if invite is None or invite.list_id != list_id or not invite.is_open(self.clock.now()):
                raise NotFound(INVITE_NOT_FOUND)
            if not await uow.lists.take_invite(invite.code_hash):
                raise NotFound(INVITE_NOT_FOUND)
            await uow.commit()
        return invite

    async def accept_invite(self, caller: Caller, code: str) -> ListView:
        """Join the invite's list in its role, using the invite up; the list as the caller now
        sees it. NotFound ("No such invite.") for an unknown, used or expired code; Conflict
        when the caller is already a member or the list has MEMBERS_MAX members. A refused
        accept leaves the invite open; of two concurrent accepts exactly one succeeds."""
        caller.authorize(Action.MANAGE_LIST)
        now = self.clock.now()
        async with self.uow() as uow:
            invite = await uow.lists.invite(hash_invite_code(code))
            if invite is None or not invite.is_open(now):
                raise NotFound(INVITE_NOT_FOUND)
            # Every refusal comes before the invite is taken, and nothing is committed with one.
            if await uow.lists.access(caller.owner, invite.list_id) is not None:
                raise Conflict("You already belong to this list.")
            if await uow.lists.member_count(invite.list_id) >= MEMBERS_MAX:
                raise Conflict(
                    f"This list already has {MEMBERS_MAX} members, the most there can be."
                )
            if not await uow.lists.take_invite(invite.code_hash):
                raise NotFound(INVITE_NOT_FOUND)
            await uow.users.ensure(caller_user(caller, now))
            joined = Membership(
                list_id=invite.list_id, user_id=caller.owner, role=invite.role, joined_at=now
            )
            if not await uow.lists.add_member(joined):
                raise Conflict("You already belong to this list.")
            view = await _view(uow, caller, invite.list_id, Action.READ)
            await uow.commit()
        return view

    async def preview_invite(self, caller: Caller, code: str) -> InvitePreview:
        """What accepting `code` would give the caller, without using it up: the list's name,
        the role, the expiry, and whether the caller already belongs to the list. NotFound ("No
        such invite.") for an unknown, used or expired code, as `accept_invite`."""
        caller.authorize(Action.READ)
        async with self.uow() as uow:
            invite = await uow.lists.invite(hash_invite_code(code))
            if invite is None or not invite.is_open(self.clock.now()):
                raise NotFound(INVITE_NOT_FOUND)
            # Only the owner makes invites, and the owner never leaves: seen as they see it.
            shared = await uow.lists.get(invite.created_by, invite.list_id)
            if shared is None:
                raise NotFound(INVITE_NOT_FOUND)
            mine = await uow.lists.access(caller.owner, invite.list_id)
        return InvitePreview(
            list_id=invite.list_id,
            name=shared.list.name,
            role=invite.role,
            expires_at=invite.expires_at,
            members=shared.members,
            is_member=mine is not None,
        )

    async def members(self, caller: Caller, list_id: ListId) -> Members:
        """The list's members, owner included (any member may ask; e-mails for the owner only)."""
        caller.authorize(Action.READ)
        async with self.uow() as uow:
            _, role = await list_for(uow, caller, list_id, Action.READ)
            members = await uow.lists.members(list_id)
        shown = may_see_emails(role)
        return Members(members=[_shown(m, shown) for m in members], with_email=shown)

    async def change_role(
        self, caller: Caller, list_id: ListId, member_id: UserId, role: Role
    ) -> Member:
        """Give a member another role (owner; `role` editor or viewer, as parse_member_role
        gives); NotFound ("No such member.") for a non-member, Conflict for the owner."""
        caller.authorize(Action.MANAGE_LIST)
        async with self.uow() as uow:
            _, mine = await list_for(uow, caller, list_id, Action.MANAGE_LIST)
            member = await _member(uow, list_id, member_id)
            check_role_changeable(member.role)
            await uow.lists.set_role(list_id, member_id, role)
            await uow.commit()
        return _shown(attrs.evolve(member, role=role), may_see_emails(mine))

    async def remove_member(self, caller: Caller, list_id: ListId, member_id: UserId) -> Member:
        """End a membership at once, returning the member as they were: the owner removes
        anyone, a member removes themself (leaves); Conflict for the owner themself."""
        caller.authorize(Action.MANAGE_LIST)
        async with self.uow() as uow:
            _, mine = await list_for(uow, caller, list_id, Action.READ)
            if not may_remove_member(mine, caller.owner, member_id):
                raise Forbidden(ROLE_REFUSED)
            member = await _member(uow, list_id, member_id)
            check_removable(member.role)
            now = self.clock.now()
            await uow.lists.remove_member(list_id, member_id, now)
            await purge_history(uow, now)
            await uow.commit()
        return _shown(member, may_see_emails(mine))


async def _view(uow: UnitOfWork, caller: Caller, list_id: ListId, action: Action) -> ListView:
    # The list as the caller sees it, if their role permits `action`.
    view = await uow.lists.get(caller.owner, list_id)
    authorize(None if view is None else view.role, action)
    assert view is not None
    return view


async def _member(uow: UnitOfWork, list_id: ListId, member_id: UserId) -> Member:
    for member in await uow.lists.members(list_id):
        if member.user_id == member_id:
            return member
    raise NotFound(MEMBER_NOT_FOUND)


def _shown(member: Member, with_email: bool) -> Member:
    return member if with_email else attrs.evolve(member, email=None)


def _check(version: int, expected: ExpectedVersions) -> None:
    if expected is not None and version not in expected:
        raise PreconditionFailed("The list has changed since you read it.")


def _raise_if_conditional(expected: ExpectedVersions) -> None:
    # As for tasks: with If-Match a lost race means the caller's version is stale for sure.
    if expected is not None:
        raise PreconditionFailed("The list has changed since you read it.")
