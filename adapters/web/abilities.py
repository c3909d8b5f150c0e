"""What the visitor may do in a list, as the pages show it: always asked of the domain's policy,
which the use cases enforce again whatever a form says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import attrs

from domain.errors import Conflict
from domain.lists import GRANTABLE_ROLES, Member, Role
from domain.policy import Action, check_removable, check_role_changeable, role_permits
from domain.types import UserId

ROLE_LABELS: Final = {
    Role.OWNER: "Owner",
    Role.EDITOR: "Editor",
    Role.VIEWER: "Viewer",
}
ROLE_PHRASES: Final = {
    Role.OWNER: "the owner",
    Role.EDITOR: "an editor",
    Role.VIEWER: "a viewer",
}
"""A role after "You are …"."""
_UNNAMED: Final = {
    Role.OWNER: "The owner",
    Role.EDITOR: "An editor",
    Role.VIEWER: "A viewer",
}
"""A member who gave no name, to those who may not see their e-mail."""
ROLE_HINTS: Final = {
    Role.OWNER: "manages the list, its invites and its members",
    Role.EDITOR: "can add, change, complete, reorder and delete tasks",
    Role.VIEWER: "can see the tasks",
}
GRANTABLE: Final = tuple((role, ROLE_LABELS[role]) for role in GRANTABLE_ROLES)
"""The roles an invite or a role change may give, with their labels, for a select."""


@attrs.frozen(kw_only=True)
class Abilities:
    """Which controls a page offers a member in `role`."""

    role: Role
    write_tasks: bool
    manage: bool

    @classmethod
    def of(cls, role: Role) -> Abilities:
        """What `role` permits, by the policy's table."""
        return cls(
            role=role,
            write_tasks=role_permits(role, Action.WRITE_TASKS),
            manage=role_permits(role, Action.MANAGE_LIST),
        )


T = TypeVar("T")


def refusal(check: Callable[[T], None], subject: T) -> str | None:
    """Why the policy's `check` (e.g. `check_deletable`) refuses `subject`, in its own words;
    None when it does not."""
    try:
        check(subject)
    except Conflict as exc:
        return exc.message
    return None


@attrs.frozen(kw_only=True)
class MemberRow:
    """A member on the share page, and whether the visitor may change their role and remove
    them (the owner, for every member but the owner)."""

    member: Member
    who: str
    is_me: bool
    manageable: bool

    @classmethod
    def of(cls, member: Member, *, me: UserId, abilities: Abilities) -> MemberRow:
        """`member` as `me`, who has `abilities` in the list, sees them."""
        is_me = member.user_id == me
        settled = refusal(check_removable, member.role) or refusal(
            check_role_changeable, member.role
        )
        return cls(
            member=member,
            who=member.name or member.email or ("You" if is_me else _UNNAMED[member.role]),
            is_me=is_me,
            manageable=abilities.manage and settled is None,
        )
