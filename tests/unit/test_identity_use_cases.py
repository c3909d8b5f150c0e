"""SPEC §10 on the in-memory adapters with the real issuer, verifier, argon2 and throttle:
personal tokens, revocation, a new password, OpenID sign-in, the export and erasure."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import orjson
import pytest

from adapters.auth import Argon2Hasher, SecretIssuer, SecretVerifier
from adapters.memory import AlwaysReady, MemoryStore
from adapters.throttle import LimitsThrottle
from domain.accounts import PasswordChange, parse_credentials
from domain.errors import (
    Forbidden,
    InvalidToken,
    NotFound,
    RateLimited,
    SignInAgain,
    SignUpClosed,
    TokenNotAllowed,
    ValidationFailed,
    WrongPassword,
)
from domain.identities import ExternalIdentity
from domain.lists import Role
from domain.personal_tokens import TokenRequest, new_secret
from domain.policy import Scope
from domain.queries import TaskCounts, TaskQuery
from domain.tasks import TaskChanges
from domain.throttling import Bucket
from domain.users import Caller, Principal
from taskservice.bootstrap import Adapters, bind_use_cases
from taskservice.services import Session, UseCases, YourDataUseCases
from tests.clock import FakeClock
from tests.sealing import SEALER
from tests.tokens import SECRET

PASSWORD = "correct horse"
ADDRESS = "10.1.2.3"
READ_ONLY = TokenRequest(name="r", scopes=frozenset({Scope.TASKS_READ}), lifetime=timedelta(days=1))
READ_WRITE = TokenRequest(name="rw", scopes=frozenset(Scope), lifetime=timedelta(days=1))
ISSUER = "https://id.example.test"


def use_cases(
    store: MemoryStore, clock: FakeClock, *, limits: str = "1000/hour", allow_signup: bool = True
) -> UseCases:
    """Every use case on `store`, as the composition root binds them."""
    adapters = Adapters(
        uow=store,
        readiness=AlwaysReady(),
        verifier=SecretVerifier(SECRET),
        issuer=SecretIssuer(SECRET, issuer=None),
        hasher=Argon2Hasher(),
        throttle=LimitsThrottle(dict.fromkeys(Bucket, limits)),
        clock=clock,
    )
    return bind_use_cases(adapters, SEALER, allow_signup=allow_signup)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> UseCases:
    return use_cases(MemoryStore(), clock)


async def signed_up(app: UseCases) -> tuple[Session, Principal]:
    """A new local account, signed in, and the principal of its token."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    credentials = parse_credentials({"email": email, "password": PASSWORD}, with_name=True)
    session = await app.accounts.sign_up(credentials, ADDRESS)
    return session, await app.sessions.verify(session.token)


async def test_a_personal_token_proves_its_owner_with_its_scopes(app: UseCases) -> None:
    _, me = await signed_up(app)
    made = await app.personal_tokens.create(me, READ_ONLY)
    principal = await app.sessions.verify(made.secret)
    assert principal.user_id == me.user_id
    assert principal.scopes == frozenset({Scope.TASKS_READ})
    assert not principal.signed_in

    caller = Caller.of(principal)
    await app.tasks.list_page(caller, TaskQuery())
    with pytest.raises(Forbidden, match="scopes"):
        await app.tasks.create(caller, TaskChanges(title="no"))
    writer = await app.sessions.verify((await app.personal_tokens.create(me, READ_WRITE)).secret)
    task = await app.tasks.create(Caller.of(writer), TaskChanges(title="yes"))
    assert task.user_id == me.user_id


async def test_a_token_unknown_malformed_revoked_or_expired_is_refused(
    app: UseCases, clock: FakeClock
) -> None:
    _, me = await signed_up(app)
    made = await app.personal_tokens.create(me, READ_ONLY)
    for token in (new_secret(), made.secret[:-1], made.secret + "x", made.secret.upper()):
        with pytest.raises(InvalidToken):
            await app.sessions.verify(token)
    revoked = await app.personal_tokens.revoke(me, made.token.id)
    assert revoked == made.token
    with pytest.raises(InvalidToken):
        await app.sessions.verify(made.secret)
    with pytest.raises(NotFound):
        await app.personal_tokens.revoke(me, made.token.id)

    lapsing = await app.personal_tokens.create(me, READ_ONLY)
    await app.sessions.verify(lapsing.secret)
    clock.moment += timedelta(days=1)
    with pytest.raises(InvalidToken):
        await app.sessions.verify(lapsing.secret)


async def test_only_a_sign_in_manages_tokens_and_the_account(app: UseCases) -> None:
    _, me = await signed_up(app)
    pat = await app.sessions.verify((await app.personal_tokens.create(me, READ_WRITE)).secret)
    change = PasswordChange(current=PASSWORD, new="another password")
    for attempt in (
        app.personal_tokens.create(pat, READ_ONLY),
        app.personal_tokens.list(pat),
        app.personal_tokens.revoke(pat, "x"),
        app.accounts.sign_out_everywhere(pat),
        app.accounts.change_password(pat, change, ADDRESS),
        app.accounts.delete_account(pat, PASSWORD, ADDRESS),
        app.your_data.export(pat),
    ):
        with pytest.raises(TokenNotAllowed):
            await attempt


async def test_tokens_are_listed_newest_first_without_secrets_and_only_their_owners(
    app: UseCases, clock: FakeClock
) -> None:
    _, me = await signed_up(app)
    _, other = await signed_up(app)
    first = await app.personal_tokens.create(me, READ_ONLY)
    clock.moment += timedelta(seconds=1)
    second = await app.personal_tokens.create(me, READ_WRITE)
    assert await app.personal_tokens.list(me) == [second.token, first.token]
    assert await app.personal_tokens.list(other) == []
    with pytest.raises(NotFound):
        await app.personal_tokens.revoke(other, first.token.id)


async def test_signing_out_everywhere_ends_every_earlier_session_and_token(
    app: UseCases, clock: FakeClock
) -> None:
    session, me = await signed_up(app)
    pat = await app.personal_tokens.create(me, READ_ONLY)
    clock.moment += timedelta(seconds=1)
    await app.accounts.sign_out_everywhere(me)
    for token in (session.token, pat.secret):
        with pytest.raises(InvalidToken):
            await app.sessions.verify(token)
    clock.moment += timedelta(seconds=1)
    later = await app.accounts.sign_in(session.user.email or "", PASSWORD, ADDRESS)
    fresh = await app.sessions.verify(later.token)
    await app.sessions.verify((await app.personal_tokens.create(fresh, READ_ONLY)).secret)


async def test_a_new_password_needs_the_current_one_and_ends_every_other_session(
    app: UseCases, clock: FakeClock
) -> None:
    session, me = await signed_up(app)
    email = session.user.email or ""
    pat = await app.personal_tokens.create(me, READ_ONLY)
    clock.moment += timedelta(seconds=1)
    with pytest.raises(WrongPassword):
        await app.accounts.change_password(
            me, PasswordChange(current="wrong one", new="new password"), ADDRESS
        )
    await app.sessions.verify(session.token)

    renewed = await app.accounts.change_password(
        me, PasswordChange(current=PASSWORD, new="new password"), ADDRESS
    )
    # Issued at the very moment the others ended: it survives the cut-off, they do not.
    assert (await app.sessions.verify(renewed.token)).user_id == me.user_id
    for token in (session.token, pat.secret):
        with pytest.raises(InvalidToken):
            await app.sessions.verify(token)
    with pytest.raises(Exception, match="incorrect"):
        await app.accounts.sign_in(email, PASSWORD, ADDRESS)
    await app.accounts.sign_in(email, "new password", ADDRESS)


async def test_the_new_password_is_stored_as_a_fresh_argon2id_hash(
    app: UseCases, clock: FakeClock
) -> None:
    store = app.tasks.uow
    _, me = await signed_up(app)
    async with store() as uow:
        before = await uow.users.password_hash(me.user_id)
    await app.accounts.change_password(
        me, PasswordChange(current=PASSWORD, new="new password"), ADDRESS
    )
    async with store() as uow:
        after = await uow.users.password_hash(me.user_id)
    assert before is not None
    assert after is not None
    assert after.startswith("$argon2id$")
    assert after != before
    assert not Argon2Hasher().needs_rehash(after)


async def test_password_changes_are_rate_limited_as_sign_ins_are(clock: FakeClock) -> None:
    app = use_cases(MemoryStore(), clock, limits="3/hour")
    _, me = await signed_up(app)
    wrong = PasswordChange(current="guess number", new="new password")
    for _ in range(2):  # the sign-up counted once against the address
        with pytest.raises(WrongPassword):
            await app.accounts.change_password(me, wrong, ADDRESS)
    with pytest.raises(RateLimited) as limited:
        await app.accounts.change_password(me, wrong, ADDRESS)
    assert limited.value.retry_after > 0
    # Refused unchecked: even the right password waits.
    with pytest.raises(RateLimited):
        await app.accounts.change_password(
            me, PasswordChange(current=PASSWORD, new="new password"), ADDRESS
        )


async def test_an_account_without_a_password_cannot_change_one(app: UseCases) -> None:
    session = await app.accounts.sign_in_with(ExternalIdentity(issuer=ISSUER, subject="s-1"))
    me = await app.sessions.verify(session.token)
    with pytest.raises(WrongPassword, match="no password"):
        await app.accounts.change_password(
            me, PasswordChange(current="anything", new="new password"), ADDRESS
        )


async def test_openid_people_are_known_by_issuer_and_subject_never_by_email(
    app: UseCases,
) -> None:
    local, _ = await signed_up(app)
    email = local.user.email
    first = await app.accounts.sign_in_with(
        ExternalIdentity(issuer=ISSUER, subject="s-1", email=email, name="Ada")
    )
    assert first.user.id != local.user.id
    assert (first.user.email, first.user.name) == (email, "Ada")
    again = await app.accounts.sign_in_with(ExternalIdentity(issuer=ISSUER, subject="s-1"))
    assert again.user.id == first.user.id
    elsewhere = await app.accounts.sign_in_with(
        ExternalIdentity(issuer="https://other.example.test", subject="s-1", email=email)
    )
    assert elsewhere.user.id not in {first.user.id, local.user.id}


async def test_a_closed_sign_up_admits_only_known_identities(clock: FakeClock) -> None:
    store = MemoryStore()
    known = ExternalIdentity(issuer=ISSUER, subject="known")
    await use_cases(store, clock).accounts.sign_in_with(known)
    closed = use_cases(store, clock, allow_signup=False)
    await closed.accounts.sign_in_with(known)
    with pytest.raises(SignUpClosed):
        await closed.accounts.sign_in_with(ExternalIdentity(issuer=ISSUER, subject="new"))


async def test_deleting_a_local_account_needs_its_password_and_erases_everything(
    app: UseCases,
) -> None:
    session, me = await signed_up(app)
    pat = await app.personal_tokens.create(me, READ_WRITE)
    await app.tasks.create(Caller.of(me), TaskChanges(title="mine"))
    _, other = await signed_up(app)
    theirs = await app.tasks.create(Caller.of(other), TaskChanges(title="theirs"))
    with pytest.raises(ValidationFailed):
        await app.accounts.delete_account(me, None, ADDRESS)
    with pytest.raises(WrongPassword):
        await app.accounts.delete_account(me, "wrong password", ADDRESS)

    deleted = await app.accounts.delete_account(me, PASSWORD, ADDRESS)
    assert deleted.id == me.user_id
    for token in (session.token, pat.secret):
        with pytest.raises(InvalidToken):
            await app.sessions.verify(token)
    async with app.tasks.uow() as uow:
        assert await uow.users.get(me.user_id) is None
        assert await uow.personal_tokens.of_user(me.user_id) == []
        assert await uow.tasks.counts(me.user_id) == TaskCounts()
        assert await uow.tasks.get_visible(other.user_id, theirs.id) == (theirs, Role.OWNER)
    with pytest.raises(Exception, match="incorrect"):
        await app.accounts.sign_in(session.user.email or "", PASSWORD, ADDRESS)


async def test_deleting_an_account_without_a_password_needs_a_recent_sign_in(
    app: UseCases, clock: FakeClock
) -> None:
    identity = ExternalIdentity(issuer=ISSUER, subject="to-go")
    clock.moment -= timedelta(minutes=11)
    session = await app.accounts.sign_in_with(identity)
    clock.moment += timedelta(minutes=11)
    stale = await app.sessions.verify(session.token)
    with pytest.raises(SignInAgain):
        await app.accounts.delete_account(stale, None, ADDRESS)
    with pytest.raises(SignInAgain):
        await app.accounts.delete_account(stale, "a password", ADDRESS)

    fresh = await app.sessions.verify((await app.accounts.sign_in_with(identity)).token)
    await app.accounts.delete_account(fresh, None, ADDRESS)
    # The identity is gone with the account: signing in again makes a new one.
    anew = await app.accounts.sign_in_with(identity)
    assert anew.user.id != session.user.id


async def test_the_export_is_one_document_read_a_page_at_a_time(clock: FakeClock) -> None:
    store = MemoryStore()
    app = use_cases(store, clock)
    _, me = await signed_up(app)
    await app.personal_tokens.create(me, READ_ONLY)
    titles = [f"task {n}" for n in range(7)]
    doomed = [f"deleted {n}" for n in range(4)]
    made = {}
    for title in titles + doomed:
        clock.moment += timedelta(milliseconds=1)
        made[title] = await app.tasks.create(Caller.of(me), TaskChanges(title=title))
    for title in doomed:
        await app.tasks.delete(Caller.of(me), made[title].id)
    small = YourDataUseCases(uow=store, clock=clock, page_size=3)
    export = await small.export(me)

    pieces: list[bytes] = []
    reads: list[int] = []
    async for page in export.pages():
        reads.append(len(page))
    trash_reads = [len(page) async for page in export.trash_pages()]
    async for piece in export.document(lambda v: orjson.dumps(v, option=orjson.OPT_UTC_Z)):
        pieces.append(piece)
    document: dict[str, Any] = orjson.loads(b"".join(pieces))

    assert reads == [3, 3, 1]
    assert trash_reads == [3, 1]
    # The head, a piece per page of tasks, the trash's opening, a piece per page, the end.
    assert len(pieces) == 1 + 3 + 1 + 2 + 1
    assert list(document) == [
        "format",
        "exported_at",
        "account",
        "personal_tokens",
        "lists",
        "memberships",
        "tasks",
        "trash",
    ]
    assert document["account"]["id"] == me.user_id
    assert document["account"]["has_password"] is True
    assert [t["title"] for t in document["tasks"]] == titles
    # Newest deletion first, each as it was, with who deleted it.
    assert [t["title"] for t in document["trash"]] == doomed[::-1]
    assert {t["deleted_by"] for t in document["trash"]} == {me.user_id}
    [token] = document["personal_tokens"]
    assert set(token) == {"id", "name", "scopes", "created_at", "expires_at"}
