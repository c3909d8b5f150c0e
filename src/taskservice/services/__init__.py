"""The use cases, bound once to their ports by the composition root (taskservice.bootstrap)."""

import attrs

from taskservice.services.accounts import RECENT_SIGN_IN, AccountUseCases, Session, SignInMethods
from taskservice.services.keyed import KeyedOutcome
from taskservice.services.lists import InvitePreview, ListUseCases
from taskservice.services.live import ChangeHub, LiveEvents, LiveTimings
from taskservice.services.personal_tokens import NewToken, PersonalTokenUseCases
from taskservice.services.sessions import SessionGuard
from taskservice.services.sync import FeedPage, SyncUseCases
from taskservice.services.tasks import ExpectedVersions, TaskPage, TaskUseCases
from taskservice.services.trash import TrashPage, TrashUseCases
from taskservice.services.your_data import Export, YourDataUseCases, token_metadata


@attrs.frozen(kw_only=True)
class UseCases:
    """Every use case the driving adapters call, each bound to its ports."""

    tasks: TaskUseCases
    lists: ListUseCases
    accounts: AccountUseCases
    sessions: SessionGuard
    """Verifies tokens for both driving adapters, and ends sessions."""
    personal_tokens: PersonalTokenUseCases
    trash: TrashUseCases
    your_data: YourDataUseCases
    sync: SyncUseCases
    live: LiveEvents


__all__ = [
    "RECENT_SIGN_IN",
    "AccountUseCases",
    "ChangeHub",
    "ExpectedVersions",
    "Export",
    "FeedPage",
    "InvitePreview",
    "KeyedOutcome",
    "ListUseCases",
    "LiveEvents",
    "LiveTimings",
    "NewToken",
    "PersonalTokenUseCases",
    "Session",
    "SessionGuard",
    "SignInMethods",
    "SyncUseCases",
    "TaskPage",
    "TaskUseCases",
    "TrashPage",
    "TrashUseCases",
    "UseCases",
    "YourDataUseCases",
    "token_metadata",
]
