"""The one way use cases reach a list or a task: through the caller's role and the policy."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from domain.lists import Role, TaskList
from domain.policy import Action, authorize
from domain.tasks import Task
from domain.types import ListId, TaskId
from domain.users import Caller, User
from taskservice.ports import UnitOfWork

TASK_NOT_FOUND: Final = "No such task."
"""The message of every NotFound for a task: missing and invisible alike, to the byte."""


def caller_user(caller: Caller, now: datetime) -> User:
    """The caller as a user to provision on their first write (a first-seen token's claims)."""
    principal = caller.principal
    return User(id=principal.user_id, email=principal.email, created_at=now)


async def task_for(uow: UnitOfWork, caller: Caller, task_id: TaskId, action: Action) -> Task:
    """Task `task_id` if the caller's role in its list permits `action`.

    NotFound when it is missing or in a list the caller is no member of (the two alike),
    Forbidden when their role does not permit `action`.
    """
    found = await uow.tasks.get_visible(caller.owner, task_id)
    authorize(None if found is None else found[1], action, not_found=TASK_NOT_FOUND)
    assert found is not None
    return found[0]


async def list_for(
    uow: UnitOfWork, caller: Caller, list_id: ListId, action: Action
) -> tuple[TaskList, Role]:
    """List `list_id` and the caller's role in it, if that role permits `action`.

    NotFound when it is missing or the caller is no member (the two alike), Forbidden when
    their role does not permit `action`.
    """
    found = await uow.lists.access(caller.owner, list_id)
    authorize(None if found is None else found[1], action)
    assert found is not None
    return found


async def default_list(uow: UnitOfWork, caller: Caller, now: datetime) -> TaskList:
    """The caller's default list, made (and the caller provisioned) on first need."""
    return await uow.lists.ensure_default(
        TaskList.default_for(caller.owner, now), caller_user(caller, now)
    )
