"""A process-local store whose units of work copy on begin and swap on commit."""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import TracebackType
from typing import Self

import attrs

from adapters.memory.changes import MemoryChangeRepository
from adapters.memory.lists import MemoryListRepository
from adapters.memory.state import State
from adapters.memory.tasks import MemoryTaskRepository
from adapters.memory.trash import MemoryTrashRepository
from domain.accounts import Account
from domain.errors import Conflict
from domain.idempotency import IdempotencyRecord
from domain.identities import ExternalIdentity
from domain.personal_tokens import PersonalToken
from domain.sessions import EndedSessions, IssuedSession
from domain.types import UserId
from domain.users import User
from taskservice.ports import ChangeSignal, FoundToken, Touched


class MemoryStore:
    """The shared state behind every in-memory unit of work; one per app or test."""

    def __init__(self, signal: ChangeSignal | None = None) -> None:
        self.state = State()
        self.signal = signal
        # Serialises units of work, as a database serialises conflicting transactions.
        self.lock = asyncio.Lock()

    def __call__(self) -> MemoryUnitOfWork:
        """A new unit of work on this store (the store is a UnitOfWorkFactory)."""
        return MemoryUnitOfWork(self)


class MemoryUserRepository:
    """Users in a unit of work's private copy of the state."""

    def __init__(self, state: State, touched: Touched | None = None) -> None:
        self._state = state
        self._touched = Touched() if touched is None else touched

    async def get(self, user_id: UserId) -> User | None:
        """The user, if known."""
        return self._state.users.get(user_id)

    async def ensure(self, user: User) -> None:
        """Store the user unless one with its id exists."""
        self._state.users.setdefault(user.id, user)

    async def account_by_email(self, email_key: str) -> Account | None:
        """The local account with this lower-cased e-mail."""
        return self._state.accounts.get(email_key)

    async def add_account(self, account: Account, email_key: str) -> None:
        """Store a new local account; Conflict if the e-mail or id is taken."""
        if email_key in self._state.accounts or account.user.id in self._state.users:
            raise Conflict("An account with this e-mail already exists.")
        self._state.accounts[email_key] = account
        self._state.users[account.user.id] = account.user

    async def password_hash(self, user_id: UserId) -> str | None:
        """The hash of the user's password, if they have a local account."""
        account = self._account(user_id)
        return account.password_hash if account else None

    async def set_password(self, user_id: UserId, password_hash: str) -> bool:
        """Replace the hash of the user's local account."""
        for key, account in self._state.accounts.items():
            if account.user.id == user_id:
                self._state.accounts[key] = attrs.evolve(account, password_hash=password_hash)
                return True
        return False

    async def remove(self, user_id: UserId, now: datetime) -> bool:
        """Erase the user and everything they own."""
        # Their lists go, and with them other members' access: too many to name here.
        self._touched.everything()
        return self._state.erase(user_id, now)

    def _account(self, user_id: UserId) -> Account | None:
        return next((a for a in self._state.accounts.values() if a.user.id == user_id), None)


class MemoryPersonalTokenRepository:
    """Personal access tokens in a unit of work's private copy of the state."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def add(self, token: PersonalToken, token_hash: str) -> None:
        """Store the token under its hash."""
        self._state.tokens[token_hash] = token

    async def of_user(self, user_id: UserId) -> list[PersonalToken]:
        """The user's tokens, newest first."""
        mine = [t for t in self._state.tokens.values() if t.user_id == user_id]
        return sorted(mine, key=lambda t: (-t.created_at.timestamp(), t.id))

    async def find(self, token_hash: str) -> FoundToken | None:
        """The token stored under the hash, and its owner's cut-off."""
        token = self._state.tokens.get(token_hash)
        if token is None or token.user_id not in self._state.users:
            return None
        cut_off = self._state.ended_before.get(token.user_id)
        return FoundToken(token=token, token_hash=token_hash, sessions_ended_before=cut_off)

    async def remove(self, user_id: UserId, token_id: str) -> bool:
        """Delete the user's token `token_id`."""
        for key, token in self._state.tokens.items():
            if token.id == token_id and token.user_id == user_id:
                del self._state.tokens[key]
                return True
        return False


class MemoryIdentityRepository:
    """OpenID Connect identities in a unit of work's private copy of the state."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def user_of(self, issuer: str, subject: str) -> User | None:
        """The user of the identity, if known."""
        user_id = self._state.identities.get((issuer, subject))
        return None if user_id is None else self._state.users.get(user_id)

    async def of_user(self, user_id: UserId) -> list[ExternalIdentity]:
        """The user's identities, in the order they were added."""
        return [
            ExternalIdentity(issuer=issuer, subject=subject)
            for (issuer, subject), owner in self._state.identities.items()
            if owner == user_id
        ]

    async def add(self, identity: ExternalIdentity, user: User) -> bool:
        """Store the user and the identity naming it, unless the identity is taken."""
        key = (identity.issuer, identity.subject)
        if key in self._state.identities:
            return False
        self._state.users.setdefault(user.id, user)
        self._state.identities[key] = user.id
        return True


class MemoryIdempotencyRepository:
    """Idempotency records in a unit of work's private copy of the state."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def get(self, user_id: UserId, key: str) -> IdempotencyRecord | None:
        """The record of the user's key."""
        return self._state.replies.get((user_id, key))

    async def claim(self, record: IdempotencyRecord, expired_by: datetime) -> bool:
        """Store the record unless the user holds its key in a record newer than `expired_by`."""
        held = self._state.replies.get((record.user_id, record.key))
        if held is not None and held.created_at > expired_by:
            return False
        self._state.replies[(record.user_id, record.key)] = record
        return True

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` records created at or before `expired_by`, oldest first."""
        expired = sorted(
            (r for r in self._state.replies.values() if r.created_at <= expired_by),
            key=lambda r: r.created_at,
        )[:limit]
        for record in expired:
            del self._state.replies[(record.user_id, record.key)]
        return len(expired)


class MemorySessionRepository:
    """Ended sessions in a unit of work's private copy of the state."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def end(self, user_id: UserId, session: IssuedSession) -> None:
        """Record the session's end until it expires."""
        self._state.ended.setdefault((user_id, session.id), session.expires_at)

    async def end_all(self, user_id: UserId, before: datetime) -> None:
        """End the user's sessions issued before `before`, unless a later cut-off holds."""
        held = self._state.ended_before.get(user_id)
        self._state.ended_before[user_id] = before if held is None else max(held, before)

    async def ended(self, user_id: UserId, now: datetime) -> EndedSessions | None:
        """The user's cut-off and ended sessions that expire after `now`; None for no user."""
        if user_id not in self._state.users:
            return None
        live = frozenset(
            sid
            for (owner, sid), expires in self._state.ended.items()
            if owner == user_id and expires > now
        )
        return EndedSessions(before=self._state.ended_before.get(user_id), ids=live)

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` records of sessions expired by `expired_by`, earliest first."""
        expired = sorted(
            (key for key, expires in self._state.ended.items() if expires <= expired_by),
            key=self._state.ended.__getitem__,
        )[:limit]
        for key in expired:
            del self._state.ended[key]
        return len(expired)


class MemoryUnitOfWork:
    """Works on a copy of the store's state and publishes it on commit, all or nothing."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._state = State()
        self._touched = Touched()

    @property
    def tasks(self) -> MemoryTaskRepository:
        """The task repository of this unit of work."""
        return MemoryTaskRepository(self._state, self._touched)

    @property
    def lists(self) -> MemoryListRepository:
        """The list, membership and invite repository of this unit of work."""
        return MemoryListRepository(self._state, self._touched)

    @property
    def trash(self) -> MemoryTrashRepository:
        """The trash repository of this unit of work."""
        return MemoryTrashRepository(self._state, self._touched)

    @property
    def users(self) -> MemoryUserRepository:
        """The user repository of this unit of work."""
        return MemoryUserRepository(self._state, self._touched)

    @property
    def changes(self) -> MemoryChangeRepository:
        """The change feed of this unit of work."""
        return MemoryChangeRepository(self._state)

    @property
    def idempotency(self) -> MemoryIdempotencyRepository:
        """The idempotency record repository of this unit of work."""
        return MemoryIdempotencyRepository(self._state)

    @property
    def sessions(self) -> MemorySessionRepository:
        """The ended-session repository of this unit of work."""
        return MemorySessionRepository(self._state)

    @property
    def personal_tokens(self) -> MemoryPersonalTokenRepository:
        """The personal access token repository of this unit of work."""
        return MemoryPersonalTokenRepository(self._state)

    @property
    def identities(self) -> MemoryIdentityRepository:
        """The OpenID Connect identity repository of this unit of work."""
        return MemoryIdentityRepository(self._state)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        self._state = self._store.state.copy()
        self._touched.discard()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store.lock.release()

    async def commit(self) -> None:
        """Publish this unit of work's state, then tell the store's change signal what changed."""
        self._store.state = self._state
        self._state = self._state.copy()
        self._touched.publish(self._store.signal)


class AlwaysReady:
    """Readiness of in-memory storage, which is always there."""

    async def is_ready(self) -> bool:
        """Always true."""
        return True
