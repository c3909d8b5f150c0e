"""The policy of SPEC §10, table by table: which scopes allow which actions, and who may act."""

from __future__ import annotations

import pytest

from domain.errors import Forbidden
from domain.policy import SCOPE_ACTIONS, Action, Scope, scopes_permit
from domain.types import UserId
from domain.users import Caller, Principal

READ, WRITE = Scope.TASKS_READ, Scope.TASKS_WRITE
ALL = frozenset(Action)

# (scopes of the token, action) -> allowed; None is a sign-in token.
TABLE = [
    (None, Action.READ, True),
    (None, Action.WRITE_TASKS, True),
    (None, Action.MANAGE_LIST, True),
    (frozenset({READ}), Action.READ, True),
    (frozenset({READ}), Action.WRITE_TASKS, False),
    (frozenset({READ}), Action.MANAGE_LIST, False),
    (frozenset({WRITE}), Action.READ, True),
    (frozenset({WRITE}), Action.WRITE_TASKS, True),
    (frozenset({WRITE}), Action.MANAGE_LIST, True),
    (frozenset({READ, WRITE}), Action.READ, True),
    (frozenset({READ, WRITE}), Action.WRITE_TASKS, True),
    (frozenset({READ, WRITE}), Action.MANAGE_LIST, True),
    (frozenset(), Action.READ, False),
]


@pytest.mark.parametrize(("scopes", "action", "allowed"), TABLE)
def test_scopes_permit(scopes: frozenset[Scope] | None, action: Action, allowed: bool) -> None:
    assert scopes_permit(scopes, action) is allowed


def test_the_table_covers_every_scope_and_action() -> None:
    covered = {(s, a) for scopes, a, _ in TABLE if scopes and len(scopes) == 1 for s in scopes}
    assert covered == {(s, a) for s in Scope for a in Action}


def test_scopes_grant_reading_only_or_everything() -> None:
    assert {READ: frozenset({Action.READ}), WRITE: ALL} == SCOPE_ACTIONS
    assert [s.value for s in Scope] == ["tasks:read", "tasks:write"]


@pytest.mark.parametrize(("scopes", "action", "allowed"), TABLE)
def test_a_caller_is_authorized_by_ownership_then_scopes(
    scopes: frozenset[Scope] | None, action: Action, allowed: bool
) -> None:
    me = Principal(user_id=UserId("me"), scopes=scopes)
    own = Caller.of(me)
    if allowed:
        own.authorize(action)
    else:
        with pytest.raises(Forbidden, match="scopes"):
            own.authorize(action)
    with pytest.raises(Forbidden, match="your own"):
        Caller(principal=me, owner=UserId("someone-else")).authorize(action)
