"""The policy: who may do what, decided here and nowhere else.

Two tables: the scopes a token was granted (SPEC §10: a personal access token may be read-only),
which `Caller.authorize` applies before a use case touches data; and the member roles of a
list (SPEC §7), which a use case applies through `authorize` once it has read the caller's role
in the list it touches (None: not a member). No other module compares roles or scopes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from domain.errors import Conflict, Forbidden, NotFound
from domain.lists import Role, TaskList
from domain.types import UserId


class Action(enum.Enum):
    """What a caller may ask to do; roles (and, in §10, a token's scopes) permit actions."""

    READ = "read"
    """Read a list and its tasks (and who its members are)."""
    WRITE_TASKS = "write_tasks"
    """Create, change, complete, move and delete tasks in a list."""
    MANAGE_LIST = "manage_list"
    """Rename and delete the list, make and withdraw invites, change and remove members."""


# ---------------------------------------------------------------------------------------------
# Scopes: what a token may do at all (a sign-in token everything).
# ---------------------------------------------------------------------------------------------


class Scope(enum.StrEnum):
    """What a personal access token was granted, by the name clients send (SPEC §10)."""

    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"


SCOPE_ACTIONS: Final[Mapping[Scope, frozenset[Action]]] = MappingProxyType(
    {
        Scope.TASKS_READ: frozenset({Action.READ}),
        Scope.TASKS_WRITE: frozenset(Action),
    }
)
"""The actions each scope grants: reading only, or everything a signed-in owner may do."""


def scopes_permit(scopes: frozenset[Scope] | None, action: Action) -> bool:
    """Whether a token with `scopes` may do `action`; None (a sign-in token) may do everything."""
    if scopes is None:
        return True
    return any(action in SCOPE_ACTIONS[scope] for scope in scopes)


# ---------------------------------------------------------------------------------------------
# Roles: what a member of a list may do in it.
# ---------------------------------------------------------------------------------------------

ROLE_ACTIONS: Final[Mapping[Role, frozenset[Action]]] = MappingProxyType(
    {
        Role.VIEWER: frozenset({Action.READ}),
        Role.EDITOR: frozenset({Action.READ, Action.WRITE_TASKS}),
        Role.OWNER: frozenset(Action),
    }
)
"""The one table of what each role permits."""

LIST_NOT_FOUND: Final = "No such list."
"""The message of every NotFound for a list: a missing list and one the caller cannot see are
answered alike, to the byte."""
ROLE_REFUSED: Final = "Your role in this list does not allow this."


def role_permits(role: Role, action: Action) -> bool:
    """Whether a member in `role` may do `action` in the list."""
    return action in ROLE_ACTIONS[role]


def roles_permitting(action: Action) -> frozenset[Role]:
    """Every role whose members may do `action` (what a query over many lists selects by)."""
    return frozenset(role for role in Role if role_permits(role, action))


TRASH_ACTION: Final = Action.WRITE_TASKS
"""What seeing, restoring and purging a list's trash takes (SPEC §8: editors and the owner)."""


def authorize(role: Role | None, action: Action, *, not_found: str = LIST_NOT_FOUND) -> Role:
    """`role` if it permits `action`: NotFound for no role (not a member), Forbidden otherwise.

    `not_found` is the message a missing thing of that kind gets, so that the answer for a list
    or task the caller cannot see is the very answer for a missing one.
    """
    if role is None:
        raise NotFound(not_found)
    if not role_permits(role, action):
        raise Forbidden(ROLE_REFUSED)
    return role


def may_see_emails(role: Role) -> bool:
    """Whether a member in `role` sees the other members' e-mails: the owner only."""
    return role_permits(role, Action.MANAGE_LIST)


def may_remove_member(role: Role, caller: UserId, member: UserId) -> bool:
    """Whether a member in `role` may remove `member`: the owner anyone, everyone themself.

    (The owner removing themself is refused by `check_removable`, whoever asks.)
    """
    return role_permits(role, Action.MANAGE_LIST) or caller == member


def check_removable(member_role: Role) -> None:
    """Conflict if a member in `member_role` cannot leave: the owner stays with their list."""
    if member_role is Role.OWNER:
        raise Conflict("The owner cannot leave their list; delete the list instead.")


def check_role_changeable(member_role: Role) -> None:
    """Conflict if `member_role` may not be changed: a list keeps its one owner."""
    if member_role is Role.OWNER:
        raise Conflict("The owner's role cannot be changed.")


def check_deletable(task_list: TaskList) -> None:
    """Conflict for a default list, which is never deleted."""
    if task_list.is_default:
        raise Conflict("The default list cannot be deleted.")


def check_shareable(task_list: TaskList) -> None:
    """Conflict for a default list, which is never shared."""
    if task_list.is_default:
        raise Conflict("The default list cannot be shared.")
