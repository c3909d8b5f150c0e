"""Account use cases on the in-memory adapters with fakes for hashing, tokens and throttling."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory import MemoryStore
from domain.accounts import parse_credentials
from domain.errors import Conflict, InvalidCredentials, RateLimited, SignUpClosed, ValidationFailed
from domain.throttling import Bucket
from domain.types import UserId
from domain.users import Principal, User
from taskservice import services
from taskservice.ports import IssuedToken

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


class ReversingHasher:
    """Hashes by reversing: fast, and still distinguishes right from wrong passwords."""

    def __init__(self) -> None:
        self.verified_against: list[str | None] = []

    async def hash(self, password: str) -> str:
        return "rev$" + password[::-1]

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified_against.append(password_hash)
        return password_hash == "rev$" + password[::-1]


class PlainIssuer:
    def issue(self, user: User, now: datetime) -> IssuedToken:
        return IssuedToken(token=f"token-for-{user.id}", expires_at=now + timedelta(days=7))


class CountingThrottle:
    """Allows `limit` hits per bucket and key."""

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self.hits: Counter[tuple[Bucket, str]] = Counter()

    async def hit(self, bucket: Bucket, key: str) -> None:
        await self.check(bucket, key)
        self.hits[bucket, key] += 1

    async def check(self, bucket: Bucket, key: str) -> None:
        if self.hits[bucket, key] >= self.limit:
            raise RateLimited(60)


@pytest.fixture
def kit() -> dict[str, object]:
    return {"hasher": ReversingHasher(), "issuer": PlainIssuer(), "throttle": CountingThrottle()}


async def sign_up(
    store: MemoryStore, kit: dict[str, object], email: str, *, allow: bool = True
) -> services.Session:
    credentials = parse_credentials(
        {"email": email, "password": "password1", "name": " Ada "}, with_name=True
    )
    return await services.sign_up(
        store,
        FixedClock(),
        credentials=credentials,
        address="10.0.0.1",
        allow_signup=allow,
        **kit,  # type: ignore[arg-type]
    )


async def sign_in(
    store: MemoryStore, kit: dict[str, object], email: str, password: str
) -> services.Session:
    return await services.sign_in(
        store,
        FixedClock(),
        email=email,
        password=password,
        address="10.0.0.1",
        **kit,  # type: ignore[arg-type]
    )


async def test_sign_up_then_sign_in_case_insensitively(kit: dict[str, object]) -> None:
    store = MemoryStore()
    session = await sign_up(store, kit, "Ada@Example.com")
    assert session.user.email == "Ada@Example.com"
    assert session.user.name == "Ada"
    assert session.token == f"token-for-{session.user.id}"

    again = await sign_in(store, kit, " ADA@example.COM ", "password1")
    assert again.user == session.user


async def test_duplicate_email_conflicts(kit: dict[str, object]) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    with pytest.raises(Conflict):
        await sign_up(store, kit, "A@B.CO")


async def test_concurrent_sign_ups_one_wins(kit: dict[str, object]) -> None:
    store = MemoryStore()
    results = await asyncio.gather(
        *(sign_up(store, kit, "race@b.co") for _ in range(3)), return_exceptions=True
    )
    assert sum(isinstance(r, services.Session) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 2


async def test_sign_up_closed(kit: dict[str, object]) -> None:
    with pytest.raises(SignUpClosed):
        await sign_up(MemoryStore(), kit, "a@b.co", allow=False)


async def test_unknown_email_is_checked_against_a_dummy_and_fails_like_a_wrong_password(
    kit: dict[str, object],
) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    with pytest.raises(InvalidCredentials) as unknown:
        await sign_in(store, kit, "nobody@b.co", "password1")
    with pytest.raises(InvalidCredentials) as wrong:
        await sign_in(store, kit, "a@b.co", "password2")
    assert unknown.value.message == wrong.value.message
    hasher = kit["hasher"]
    assert isinstance(hasher, ReversingHasher)
    assert hasher.verified_against[0] is None


async def test_failed_sign_ins_are_counted_per_email(kit: dict[str, object]) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    throttle = CountingThrottle(limit=2)
    kit["throttle"] = throttle
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await sign_in(store, kit, "A@b.co", "wrong-pass")
    assert throttle.hits[Bucket.FAILED_SIGN_IN_PER_EMAIL, "a@b.co"] == 2
    with pytest.raises(RateLimited):
        await sign_in(store, kit, "a@b.co", "password1")


def test_credential_rules() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_credentials({"email": "nope", "password": "short", "name": "x\x00"}, with_name=True)
    assert {d.field: d.code for d in caught.value.details} == {
        "email": "invalid_email",
        "password": "invalid_length",
        "name": "control_character",
    }


async def test_current_user_provisions_a_token_user(kit: dict[str, object]) -> None:
    store = MemoryStore()
    principal = Principal(user_id=UserId("ba-123"), email="ext@b.co")
    user = await services.current_user(store, FixedClock(), principal)
    assert (user.id, user.email) == ("ba-123", "ext@b.co")
    assert store.state.users[UserId("ba-123")] == user
    assert "ext@b.co" not in store.state.accounts
