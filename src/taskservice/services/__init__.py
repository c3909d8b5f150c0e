"""The use cases, bound once to their ports by the composition root (taskservice.bootstrap)."""

import attrs

from taskservice.services.accounts import AccountUseCases, Session
from taskservice.services.lists import InvitePreview, ListUseCases
from taskservice.services.sessions import SessionGuard
from taskservice.services.tasks import ExpectedVersions, KeyedOutcome, TaskPage, TaskUseCases


@attrs.frozen(kw_only=True)
class UseCases:
    """Every use case the driving adapters call, each bound to its ports."""

    tasks: TaskUseCases
    lists: ListUseCases
    accounts: AccountUseCases
    sessions: SessionGuard
    """Verifies tokens for both driving adapters, and ends sessions."""


__all__ = [
    "AccountUseCases",
    "ExpectedVersions",
    "InvitePreview",
    "KeyedOutcome",
    "ListUseCases",
    "Session",
    "SessionGuard",
    "TaskPage",
    "TaskUseCases",
    "UseCases",
]
