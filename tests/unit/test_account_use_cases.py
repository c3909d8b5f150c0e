"""Account use cases on the in-memory adapters (the throttle in process), fakes for hashes and tokens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.auth import SecretVerifier
from adapters.memory import MemoryStore
from adapters.throttle import LimitsThrottle
from domain.accounts import parse_credentials
from domain.errors import Conflict, InvalidCredentials, RateLimited, SignUpClosed, ValidationFailed
from domain.throttling import Bucket
from domain.types import UserId
from domain.users import Principal, User
from taskservice.ports import IssuedToken
from taskservice.services import AccountUseCases, Session, SessionGuard
from tests.clock import FakeClock
from tests.tokens import SECRET

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class ReversingHasher:
    """Hashes by reversing: fast, and still distinguishes right from wrong passwords."""

    def __init__(self) -> None:
        self.verified_against: list[str | None] = []

    async def hash(self, password: str) -> str:
        return "rev$" + password[::-1]

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified_against.append(password_hash)
        # Argon2 runs in a thread: other sign-ins go on meanwhile, as they would here.
        await asyncio.sleep(0)
        return password_hash == "rev$" + password[::-1]


class PlainIssuer:
    def issue(self, user: User, now: datetime) -> IssuedToken:
        return IssuedToken(token=f"token-for-{user.id}", expires_at=now + timedelta(days=7))


def throttle(*, per_email_and_address: int = 100, per_email: int = 1000) -> LimitsThrottle:
    """The in-process throttle with these sign-in limits per window of an hour."""
    return LimitsThrottle(
        {
            Bucket.AUTH_PER_ADDRESS: "1000/hour",
            Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS: f"{per_email_and_address}/hour",
            Bucket.FAILED_SIGN_IN_PER_EMAIL_ALL_ADDRESSES: f"{per_email}/hour",
        }
    )


@pytest.fixture
def kit() -> dict[str, object]:
    return {"hasher": ReversingHasher(), "issuer": PlainIssuer(), "throttle": throttle()}


def accounts(store: MemoryStore, kit: dict[str, object], *, allow: bool = True) -> AccountUseCases:
    """The account use cases on `store` with the fakes of `kit`."""
    clock = FakeClock(NOW)
    sessions = SessionGuard(SecretVerifier(SECRET), store, clock)
    return AccountUseCases(
        uow=store,
        clock=clock,
        sessions=sessions,
        allow_signup=allow,
        **kit,  # type: ignore[arg-type]
    )


async def sign_up(
    store: MemoryStore, kit: dict[str, object], email: str, *, allow: bool = True
) -> Session:
    credentials = parse_credentials(
        {"email": email, "password": "password1", "name": " Ada "}, with_name=True
    )
    return await accounts(store, kit, allow=allow).sign_up(credentials, "10.0.0.1")


async def sign_in(
    store: MemoryStore,
    kit: dict[str, object],
    email: str,
    password: str,
    *,
    address: str = "10.0.0.1",
) -> Session:
    return await accounts(store, kit).sign_in(email, password, address)


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
    assert sum(isinstance(r, Session) for r in results) == 1
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


async def test_parallel_guesses_never_pass_the_limit(kit: dict[str, object]) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    kit["throttle"] = throttle(per_email_and_address=10)
    results = await asyncio.gather(
        *(sign_in(store, kit, "a@b.co", f"wrong-{n:03}") for n in range(20)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, InvalidCredentials) for r in results) == 10
    assert sum(isinstance(r, RateLimited) for r in results) == 10
    hasher = kit["hasher"]
    assert isinstance(hasher, ReversingHasher)
    assert len(hasher.verified_against) == 10


async def test_a_stranger_elsewhere_cannot_lock_the_owner_out(kit: dict[str, object]) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    kit["throttle"] = throttle(per_email_and_address=3)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await sign_in(store, kit, "A@b.co", "wrong-pass", address="203.0.113.9")
    with pytest.raises(RateLimited):
        await sign_in(store, kit, "a@b.co", "password1", address="203.0.113.9")

    session = await sign_in(store, kit, "a@b.co", "password1", address="10.0.0.1")
    assert session.user.email == "a@b.co"


async def test_guesses_from_many_addresses_meet_the_limit_per_email(
    kit: dict[str, object],
) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    kit["throttle"] = throttle(per_email_and_address=3, per_email=5)
    for n in range(5):
        with pytest.raises(InvalidCredentials):
            await sign_in(store, kit, "a@b.co", "wrong-pass", address=f"198.51.100.{n}")
    with pytest.raises(RateLimited) as refused:
        await sign_in(store, kit, "a@b.co", "password1", address="198.51.100.99")
    assert refused.value.retry_after > 60


async def test_refused_attempts_do_not_use_up_the_limit_per_email(
    kit: dict[str, object],
) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    kit["throttle"] = throttle(per_email_and_address=2, per_email=4)
    for _ in range(10):
        with pytest.raises((InvalidCredentials, RateLimited)):
            await sign_in(store, kit, "a@b.co", "wrong-pass", address="203.0.113.9")

    session = await sign_in(store, kit, "a@b.co", "password1", address="10.0.0.1")
    assert session.user.email == "a@b.co"


async def test_signing_in_forgives_earlier_mistakes_from_that_address(
    kit: dict[str, object],
) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    kit["throttle"] = throttle(per_email_and_address=3)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await sign_in(store, kit, "a@b.co", "wrong-pass")
    await sign_in(store, kit, "a@b.co", "password1")
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await sign_in(store, kit, "a@b.co", "wrong-pass")
    await sign_in(store, kit, "a@b.co", "password1")


async def test_an_ipv6_client_is_counted_by_its_64(kit: dict[str, object]) -> None:
    store = MemoryStore()
    await sign_up(store, kit, "a@b.co")
    kit["throttle"] = throttle(per_email_and_address=2)
    for host in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"):
        with pytest.raises(InvalidCredentials):
            await sign_in(store, kit, "a@b.co", "wrong-pass", address=host)
    with pytest.raises(RateLimited):
        await sign_in(store, kit, "a@b.co", "password1", address="2001:db8:1:2:abcd::7")

    await sign_in(store, kit, "a@b.co", "password1", address="2001:db8:1:3::1")


def test_credential_rules() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_credentials({"email": "nope", "password": "short", "name": "x\x00"}, with_name=True)
    assert {d.field: d.code for d in caught.value.details} == {
        "email": "invalid_email",
        "password": "invalid_length",
        "name": "control_character",
    }


@pytest.mark.parametrize(
    ("email", "accepted"),
    [
        # 196 characters that lower-case to 385 ("İ" becomes "i" and a combining dot).
        ("İ" * 64 + "@" + "İ" * 63 + "." + "İ" * 63 + ".com", False),
        ("a" * 64 + "@" + "İ" * 63 + "." + "İ" * 30 + ".co", False),
        ("a" * 64 + "@" + "İ" * 60 + "." + "b" * 60 + ".co", True),
        ("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".co", True),
    ],
)
def test_an_email_must_fit_also_in_lower_case(email: str, accepted: bool) -> None:
    body = {"email": email, "password": "password1"}
    if accepted:
        assert len(parse_credentials(body, with_name=True).email_key) <= 254
        return
    with pytest.raises(ValidationFailed) as caught:
        parse_credentials(body, with_name=True)
    assert [(d.field, d.code) for d in caught.value.details] == [("email", "too_long")]


async def test_current_user_provisions_a_token_user(kit: dict[str, object]) -> None:
    store = MemoryStore()
    principal = Principal(user_id=UserId("ba-123"), email="ext@b.co")
    user = await accounts(store, kit).current_user(principal)
    assert (user.id, user.email) == ("ba-123", "ext@b.co")
    assert store.state.users[UserId("ba-123")] == user
    assert "ext@b.co" not in store.state.accounts
