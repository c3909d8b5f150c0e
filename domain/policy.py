"""What a caller may do: the actions on lists and tasks, and the scopes that grant them.

One place decides: use cases ask `Caller.authorize(action)` before touching data, and that asks
`scopes_permit` (and, for shared lists, the member's role) here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


class Action(enum.Enum):
    """Something a caller asks to do."""

    READ = "read"
    """Read lists and tasks."""
    WRITE_TASKS = "write-tasks"
    """Create, change, complete, move and delete tasks."""
    MANAGE_LIST = "manage-list"
    """Create, rename and delete lists; make invites; manage members."""


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
