"""Ending sessions (SPEC §5, §10) on the in-memory adapters, with the real token issuer and verifier."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import TracebackType

import attrs
import pytest

from adapters.auth import SecretIssuer, SecretVerifier
from adapters.memory import MemoryStore
from adapters.memory.store import MemoryUnitOfWork
from domain.accounts import Account
from domain.errors import InvalidToken, StorageUnavailable
from domain.types import UserId
from domain.users import Principal, User
from taskservice.ports import UnitOfWorkFactory
from taskservice.services import SessionGuard
from tests.clock import FakeClock
from tests.tokens import SECRET, hs256

ISSUER = SecretIssuer(SECRET, issuer=None)


@attrs.define
class Ticker:
    """A monotonic clock that moves only when told to."""

    seconds: float = 1000.0

    def __call__(self) -> float:
        return self.seconds


class CountingStore(MemoryStore):
    """A memory store that counts the units of work opened on it."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = 0

    def __call__(self) -> MemoryUnitOfWork:
        self.opened += 1
        return super().__call__()


async def account(store: UnitOfWorkFactory) -> User:
    """A new local account."""
    user = User(id=UserId(uuid.uuid4().hex), created_at=datetime.now(UTC))
    async with store() as work:
        await work.users.add_account(Account(user=user, password_hash="h"), user.id)
        await work.commit()
    return user


def token_for(user: User, clock: FakeClock) -> str:
    """A token the service issued to `user` at the clock's moment."""
    return ISSUER.issue(user, clock.now()).token


def guard_on(store: UnitOfWorkFactory, clock: FakeClock, ticker: Ticker) -> SessionGuard:
    """One process's guard over `store`."""
    return SessionGuard(SecretVerifier(SECRET), store, clock, monotonic=ticker)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


async def test_a_frontends_token_passes_without_a_look_at_storage(
    store: CountingStore, clock: FakeClock, ticker: Ticker
) -> None:
    principal = await guard_on(store, clock, ticker).verify(hs256("frontend-user"))
    assert principal == Principal(user_id=UserId("frontend-user"))
    assert store.opened == 0


async def test_signing_out_ends_that_token_at_once_and_no_other(
    store: CountingStore, clock: FakeClock, ticker: Ticker
) -> None:
    guard = guard_on(store, clock, ticker)
    user = await account(store)
    signed_out, other = token_for(user, clock), token_for(user, clock)
    principal = await guard.verify(signed_out)
    await guard.verify(other)

    await guard.sign_out(principal)

    with pytest.raises(InvalidToken):
        await guard.verify(signed_out)
    assert (await guard.verify(other)).user_id == user.id


async def test_another_process_refuses_the_token_once_its_knowledge_is_a_second_old(
    store: CountingStore, clock: FakeClock, ticker: Ticker
) -> None:
    here, there = guard_on(store, clock, ticker), guard_on(store, clock, ticker)
    user = await account(store)
    token = token_for(user, clock)
    principal = await here.verify(token)
    await there.verify(token)

    await here.sign_out(principal)
    ticker.seconds += 0.999
    await there.verify(token)  # what it read under a second ago is still good enough
    ticker.seconds += 0.001
    with pytest.raises(InvalidToken):
        await there.verify(token)


async def test_one_read_a_second_serves_every_request_of_a_user(
    store: CountingStore, clock: FakeClock, ticker: Ticker
) -> None:
    guard = guard_on(store, clock, ticker)
    user = await account(store)
    token = token_for(user, clock)
    opened = store.opened
    await asyncio.gather(*(guard.verify(token) for _ in range(20)))
    for _ in range(10):
        ticker.seconds += 0.09
        await guard.verify(token)
    assert store.opened == opened + 1
    ticker.seconds += 0.1
    await guard.verify(token)
    assert store.opened == opened + 2


async def test_ending_every_session_spares_only_tokens_issued_after_it(
    store: CountingStore, clock: FakeClock, ticker: Ticker
) -> None:
    guard = guard_on(store, clock, ticker)
    user, bystander = await account(store), await account(store)
    before = [token_for(user, clock) for _ in range(2)]
    theirs = token_for(bystander, clock)
    clock.moment += timedelta(microseconds=1)

    await guard.end_every_session(user.id)
    clock.moment += timedelta(microseconds=1)
    after = token_for(user, clock)

    for token in before:
        with pytest.raises(InvalidToken):
            await guard.verify(token)
    assert (await guard.verify(after)).user_id == user.id
    assert (await guard.verify(theirs)).user_id == bystander.id


async def test_a_token_of_ours_whose_account_is_gone_is_refused(
    store: CountingStore, clock: FakeClock, ticker: Ticker
) -> None:
    ghost = User(id=UserId("deleted-account"), created_at=clock.now())
    with pytest.raises(InvalidToken):
        await guard_on(store, clock, ticker).verify(token_for(ghost, clock))


async def test_signing_out_a_frontends_token_touches_nothing(
    store: CountingStore, clock: FakeClock, ticker: Ticker
) -> None:
    guard = guard_on(store, clock, ticker)
    await guard.sign_out(await guard.verify(hs256("frontend-user")))
    assert store.opened == 0


class FlakyStore(MemoryStore):
    """A memory store whose next unit of work fails as when the database is unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def __call__(self) -> MemoryUnitOfWork:
        if self.down:
            raise StorageUnavailable()
        return super().__call__()


async def test_a_failed_read_is_not_remembered(clock: FakeClock, ticker: Ticker) -> None:
    store = FlakyStore()
    guard = guard_on(store, clock, ticker)
    token = token_for(await account(store), clock)
    store.down = True
    with pytest.raises(StorageUnavailable):
        await guard.verify(token)
    store.down = False
    await guard.verify(token)


class SlowReads(MemoryStore):
    """A memory store whose units of work that only read, once done, wait for `gate` before
    they return."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    def __call__(self) -> MemoryUnitOfWork:
        return _SlowUnitOfWork(self)

    def fast(self) -> MemoryUnitOfWork:
        """A unit of work on the same state that does not wait."""
        return MemoryUnitOfWork(self)


class _SlowUnitOfWork(MemoryUnitOfWork):
    def __init__(self, store: SlowReads) -> None:
        super().__init__(store)
        self._slow = store
        self._wrote = False

    async def commit(self) -> None:
        await super().commit()
        self._wrote = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        if not self._wrote:
            self._slow.waiting.set()
            await self._slow.gate.wait()


async def test_a_read_begun_before_a_sign_out_is_not_remembered_after_it(
    clock: FakeClock, ticker: Ticker
) -> None:
    store = SlowReads()
    guard = guard_on(store, clock, ticker)
    user = await account(store.fast)
    token = token_for(user, clock)
    principal = await SecretVerifier(SECRET).verify(token)

    racing = asyncio.create_task(guard.verify(token))
    await store.waiting.wait()
    await guard.sign_out(principal)
    store.gate.set()
    await racing  # it began before the sign-out: either answer is right for it

    with pytest.raises(InvalidToken):
        await guard.verify(token)
