"""The list use cases (SPEC §7): lists, invites and members, each judged by the policy first."""

from __future__ import annotations

import attrs

from domain.lists import Invite, InviteTerms, IssuedInvite, ListView, Member, Members, Role
from domain.types import ListId, UserId
from domain.users import Caller
from taskservice.ports import Clock, UnitOfWorkFactory
from taskservice.services.tasks import ExpectedVersions


@attrs.frozen(kw_only=True)
class ListUseCases:
    """Every operation on lists, their invites and their members, bound to storage and clock.

    Every method first applies the path rule (`caller.check()`: Forbidden unless the path's
    user is the token's), then finds the caller's role in the list and asks the policy: no
    role → NotFound("No such list."), byte-identical to a missing list; a role that does not
    permit the action → Forbidden. A refused call writes nothing.
    """

    uow: UnitOfWorkFactory
    clock: Clock

    async def create(self, caller: Caller, name: str) -> ListView:
        """A new list named `name` (parsed: domain.lists.parse_list_fields) owned by the caller.

        Conflict when the caller already owns LISTS_PER_OWNER_MAX lists.
        """
        raise NotImplementedError

    async def list_all(self, caller: Caller) -> list[ListView]:
        """Every list the caller owns or belongs to: the default list first (made on first
        need), then by name."""
        raise NotImplementedError

    async def get(self, caller: Caller, list_id: ListId) -> ListView:
        """One list the caller belongs to (any role)."""
        raise NotImplementedError

    async def rename(
        self, caller: Caller, list_id: ListId, name: str, *, expected: ExpectedVersions = None
    ) -> ListView:
        """Rename the list (owner); PreconditionFailed unless its version is one of `expected`
        (when given). The same name changes nothing."""
        raise NotImplementedError

    async def delete(
        self, caller: Caller, list_id: ListId, *, expected: ExpectedVersions = None
    ) -> ListView:
        """Delete the list with its tasks, members and invites (owner), returning it as it was;
        Conflict for the default list. (Issue 16's trash will keep the tasks.)"""
        raise NotImplementedError

    async def create_invite(
        self, caller: Caller, list_id: ListId, terms: InviteTerms
    ) -> IssuedInvite:
        """A new invite to the list (owner) with its code, shown this once; Conflict for the
        default list (never shared) or when OPEN_INVITES_MAX invites are open."""
        raise NotImplementedError

    async def invites(self, caller: Caller, list_id: ListId) -> list[Invite]:
        """The list's open invites, oldest first (owner): role and expiry, never a code."""
        raise NotImplementedError

    async def withdraw_invite(self, caller: Caller, list_id: ListId, code: str) -> Invite:
        """Withdraw the list's open invite with `code` (owner), returning it; NotFound ("No such
        invite.") for a code of no open invite of this list."""
        raise NotImplementedError

    async def accept_invite(self, caller: Caller, code: str) -> ListView:
        """Join the invite's list in its role, using the invite up; the list as the caller now
        sees it. NotFound ("No such invite.") for an unknown, used or expired code; Conflict
        when the caller is already a member or the list has MEMBERS_MAX members. A refused
        accept leaves the invite open; of two concurrent accepts exactly one succeeds."""
        raise NotImplementedError

    async def members(self, caller: Caller, list_id: ListId) -> Members:
        """The list's members, owner included (any member may ask; e-mails for the owner only)."""
        raise NotImplementedError

    async def change_role(
        self, caller: Caller, list_id: ListId, member_id: UserId, role: Role
    ) -> Member:
        """Give a member another role (owner; `role` editor or viewer, as parse_member_role
        gives); NotFound ("No such member.") for a non-member, Conflict for the owner."""
        raise NotImplementedError

    async def remove_member(self, caller: Caller, list_id: ListId, member_id: UserId) -> Member:
        """End a membership at once, returning the member as they were: the owner removes
        anyone, a member removes themself (leaves); Conflict for the owner themself."""
        raise NotImplementedError
