"""The use cases: one async function per operation, dependencies as parameters."""

from taskservice.services.accounts import Session, current_user, sign_in, sign_up
from taskservice.services.sessions import SessionGuard, end_every_session, sign_out
from taskservice.services.tasks import (
    ExpectedVersions,
    KeyedOutcome,
    TaskPage,
    create_task,
    create_task_once,
    delete_task,
    get_task,
    list_tasks,
    set_completion,
    set_completion_once,
    update_task,
)

__all__ = [
    "ExpectedVersions",
    "KeyedOutcome",
    "Session",
    "SessionGuard",
    "TaskPage",
    "create_task",
    "create_task_once",
    "current_user",
    "delete_task",
    "end_every_session",
    "get_task",
    "list_tasks",
    "set_completion",
    "set_completion_once",
    "sign_in",
    "sign_out",
    "sign_up",
    "update_task",
]
