"""The use cases: one async function per operation, dependencies as parameters."""

from taskservice.services.accounts import Session, current_user, sign_in, sign_up
from taskservice.services.tasks import (
    CreateOutcome,
    ExpectedVersions,
    TaskPage,
    create_task,
    create_task_once,
    delete_task,
    get_task,
    list_tasks,
    set_completion,
    update_task,
)

__all__ = [
    "CreateOutcome",
    "ExpectedVersions",
    "Session",
    "TaskPage",
    "create_task",
    "create_task_once",
    "current_user",
    "delete_task",
    "get_task",
    "list_tasks",
    "set_completion",
    "sign_in",
    "sign_up",
    "update_task",
]
