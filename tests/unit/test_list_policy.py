"""The ownership policy as a table: every role against every action, and its rules beside it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import Conflict, Forbidden, NotFound
from domain.lists import Role, TaskList
from domain.policy import (
    LIST_NOT_FOUND,
    ROLE_ACTIONS,
    Action,
    authorize,
    check_deletable,
    check_removable,
    check_role_changeable,
    check_shareable,
    may_remove_member,
    role_permits,
)
from domain.types import UserId

# SPEC §7, written out once more on purpose: the test must fail if the table drifts from it.
EXPECTED = {
    (Role.VIEWER, Action.READ): True,
    (Role.VIEWER, Action.WRITE_TASKS): False,
    (Role.VIEWER, Action.MANAGE_LIST): False,
    (Role.EDITOR, Action.READ): True,
    (Role.EDITOR, Action.WRITE_TASKS): True,
    (Role.EDITOR, Action.MANAGE_LIST): False,
    (Role.OWNER, Action.READ): True,
    (Role.OWNER, Action.WRITE_TASKS): True,
    (Role.OWNER, Action.MANAGE_LIST): True,
}
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_the_expectation_covers_every_role_and_every_action() -> None:
    assert set(EXPECTED) == {(role, action) for role in Role for action in Action}
    assert set(ROLE_ACTIONS) == set(Role)


@pytest.mark.parametrize(("role", "action"), sorted(EXPECTED, key=str))
def test_each_role_permits_exactly_its_actions(role: Role, action: Action) -> None:
    permitted = EXPECTED[(role, action)]
    assert role_permits(role, action) is permitted
    if permitted:
        assert authorize(role, action) is role
    else:
        with pytest.raises(Forbidden):
            authorize(role, action)


@pytest.mark.parametrize("action", list(Action))
def test_no_role_is_not_found_whatever_the_action(action: Action) -> None:
    with pytest.raises(NotFound) as refused:
        authorize(None, action)
    assert refused.value.message == LIST_NOT_FOUND
    with pytest.raises(NotFound) as task_refused:
        authorize(None, action, not_found="No such task.")
    assert task_refused.value.message == "No such task."


@pytest.mark.parametrize("role", list(Role))
def test_everyone_may_remove_themself_and_only_the_owner_others(role: Role) -> None:
    me, other = UserId("me"), UserId("other")
    assert may_remove_member(role, me, me)
    assert may_remove_member(role, me, other) is (role is Role.OWNER)


def test_the_owner_neither_leaves_nor_changes_role() -> None:
    with pytest.raises(Conflict):
        check_removable(Role.OWNER)
    with pytest.raises(Conflict):
        check_role_changeable(Role.OWNER)
    for role in (Role.EDITOR, Role.VIEWER):
        check_removable(role)
        check_role_changeable(role)


def test_the_default_list_is_never_deleted_nor_shared() -> None:
    inbox = TaskList.default_for(UserId("u"), NOW)
    other = TaskList.create(owner_id=UserId("u"), name="Groceries", now=NOW)
    for check in (check_deletable, check_shareable):
        with pytest.raises(Conflict):
            check(inbox)
        check(other)
