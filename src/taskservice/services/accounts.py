"""Account use cases: sign up, sign in (with a password or an OpenID Provider), who am I, a new
password, and erasing the account."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

import attrs

from domain.accounts import Account, Credentials, PasswordChange, email_key
from domain.errors import (
    FieldError,
    InvalidCredentials,
    SignInAgain,
    SignUpClosed,
    ValidationFailed,
    WrongPassword,
)
from domain.identities import ExternalIdentity
from domain.throttling import Bucket, address_key, email_and_address_key
from domain.types import UserId
from domain.users import Principal, User
from taskservice.ports import (
    Clock,
    PasswordHasher,
    Throttle,
    TokenIssuer,
    UnitOfWork,
    UnitOfWorkFactory,
)
from taskservice.services.personal_tokens import ensure_signed_in
from taskservice.services.sessions import SessionGuard

RECENT_SIGN_IN: Final = timedelta(minutes=10)
"""How fresh a sign-in must be to erase an account that has no password to confirm it with."""


@attrs.frozen(kw_only=True)
class Session:
    """A signed-in user and the bearer token that proves it."""

    user: User
    token: str
    expires_at: datetime


@attrs.frozen(kw_only=True)
class SignInMethods:
    """How a user signs in: with a password, with providers' identities, or neither (a frontend)."""

    has_password: bool
    identities: list[ExternalIdentity]


@attrs.frozen(kw_only=True)
class AccountUseCases:
    """Local accounts and the caller's user, bound to storage, the clock and the identity ports."""

    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    issuer: TokenIssuer
    throttle: Throttle
    sessions: SessionGuard
    allow_signup: bool = True

    async def sign_up(self, credentials: Credentials, address: str) -> Session:
        """Create a local account (e-mail unique case-insensitively) and sign it in."""
        if not self.allow_signup:
            raise SignUpClosed()
        await self.throttle.hit(Bucket.AUTH_PER_ADDRESS, address_key(address))
        password_hash = await self.hasher.hash(credentials.password)
        now = self.clock.now()
        user = User(
            id=UserId(uuid.uuid4().hex),
            email=credentials.email,
            name=credentials.name,
            created_at=now,
        )
        async with self.uow() as uow:
            await uow.users.add_account(
                Account(user=user, password_hash=password_hash), credentials.email_key
            )
            await uow.commit()
        return self._session(user, now)

    async def sign_in(self, email: str, password: str, address: str) -> Session:
        """A session for the account with this e-mail and password; one answer for every failure.

        Every attempt is counted before the password is checked, in each limit atomically, so
        parallel guesses cannot all pass a limit between its check and its count. The strict
        limit is per e-mail and address, so that a stranger elsewhere cannot lock the owner out;
        the looser one per e-mail bounds guessing spread over many addresses. It is counted
        last, so that attempts the strict limit already refused do not use it up.
        """
        key = email_key(email)
        pair = email_and_address_key(key, address)
        throttle = self.throttle
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, address_key(address))
        await throttle.hit(Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS, pair)
        await throttle.hit(Bucket.FAILED_SIGN_IN_PER_EMAIL_ALL_ADDRESSES, key)
        async with self.uow() as uow:
            account = await uow.users.account_by_email(key)
        # An unknown e-mail is checked against a dummy hash so that both failures take as long.
        if not await self.hasher.verify(account.password_hash if account else None, password):
            raise InvalidCredentials()
        assert account is not None
        # The owner proved the password from this address: their earlier typos there are
        # forgiven. The count across addresses stays, or each sign-in of the owner would hand a
        # distributed guesser a fresh allowance.
        await throttle.clear(Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS, pair)
        return self._session(account.user, self.clock.now())

    async def current_user(self, principal: Principal) -> User:
        """The caller's user record, provisioned on first sight from a trusted token."""
        async with self.uow() as uow:
            user = await uow.users.get(principal.user_id)
            if user is None:
                await uow.users.ensure(
                    User(id=principal.user_id, email=principal.email, created_at=self.clock.now())
                )
                await uow.commit()
                user = await uow.users.get(principal.user_id)
        assert user is not None
        return user

    async def sign_in_with(self, identity: ExternalIdentity) -> Session:
        """A session for the person an OpenID Provider vouched for, by issuer and subject only.

        A first sign-in makes a new user (never one found by e-mail), unless sign-up is closed:
        ALLOW_SIGNUP=false admits no new accounts by any door, since a configured provider may
        be one where anyone can have an account.
        """
        for _ in range(2):
            async with self.uow() as uow:
                user = await uow.identities.user_of(identity.issuer, identity.subject)
                if user is not None:
                    return self._session(user, self.clock.now())
                if not self.allow_signup:
                    raise SignUpClosed()
                now = self.clock.now()
                user = User(
                    id=UserId(uuid.uuid4().hex),
                    email=identity.email,
                    name=identity.name,
                    created_at=now,
                )
                if await uow.identities.add(identity, user):
                    await uow.commit()
                    return self._session(user, now)
            # Another first sign-in of the same person stored the identity first: use theirs.
        raise SignUpClosed("The sign-in could not be completed; try again.")

    async def sign_in_methods(self, principal: Principal) -> SignInMethods:
        """How the caller signs in, for the settings page."""
        async with self.uow() as uow:
            stored = await uow.users.password_hash(principal.user_id)
            identities = await uow.identities.of_user(principal.user_id)
        return SignInMethods(has_password=stored is not None, identities=identities)

    def may_delete_without_password(self, principal: Principal) -> bool:
        """Whether the caller's sign-in is recent enough to erase an account without a password."""
        signed_in_at = principal.signed_in_at
        return signed_in_at is not None and self.clock.now() - signed_in_at <= RECENT_SIGN_IN

    async def sign_out_everywhere(self, principal: Principal) -> datetime:
        """End every session and personal token of the caller issued until now, on every
        instance within a second; the moment they ended."""
        ensure_signed_in(principal)
        return await self.sessions.end_every_session(principal.user_id)

    async def change_password(
        self, principal: Principal, change: PasswordChange, address: str
    ) -> Session:
        """Set a new password once the current one is proved, and end every earlier session.

        Counted as a sign-in attempt is (the same limits and keys), so that a stolen session
        cannot guess the password faster through this door. Answers a fresh session, issued at
        the very moment the others ended, so that the caller stays signed in.
        """
        ensure_signed_in(principal)
        user_id = principal.user_id
        await self._prove_password(user_id, change.current, address)
        new_hash = await self.hasher.hash(change.new)
        now = self.clock.now()
        async with self.uow() as uow:
            user = await uow.users.get(user_id)
            if user is None or not await uow.users.set_password(user_id, new_hash):
                raise WrongPassword()
            await uow.sessions.end_all(user_id, now)
            await uow.commit()
        self.sessions.forget(user_id)
        return self._session(user, now)

    async def delete_account(
        self, principal: Principal, password: str | None, address: str
    ) -> User:
        """Erase the caller's account and everything it owns, in one transaction.

        A local account confirms with its password. One without a password (signed in through
        an OpenID Provider, or known from a frontend's token) needs a token issued at most ten
        minutes ago instead (a fresh sign-in), so that a token left in a browser cannot do it.
        """
        ensure_signed_in(principal)
        user_id = principal.user_id
        async with self.uow() as uow:
            has_password = await uow.users.password_hash(user_id) is not None
        if has_password:
            if password is None:
                raise ValidationFailed(
                    [FieldError(field="password", code="required", message="password is required.")]
                )
            await self._prove_password(user_id, password, address)
        # A password sent for an account that has none proves nothing, and changes nothing.
        elif not self.may_delete_without_password(principal):
            raise SignInAgain()
        async with self.uow() as uow:
            user = await uow.users.get(user_id) or self._first_seen(principal)
            await uow.users.remove(user_id, self.clock.now())
            await uow.commit()
        self.sessions.forget(user_id)
        return user

    async def _prove_password(self, user_id: UserId, password: str, address: str) -> None:
        async with self.uow() as uow:
            user, stored = await self._account_of(uow, user_id)
        key = email_key(user.email or user_id)
        pair = email_and_address_key(key, address)
        await self.throttle.hit(Bucket.AUTH_PER_ADDRESS, address_key(address))
        await self.throttle.hit(Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS, pair)
        await self.throttle.hit(Bucket.FAILED_SIGN_IN_PER_EMAIL_ALL_ADDRESSES, key)
        if not await self.hasher.verify(stored, password):
            raise WrongPassword()
        await self.throttle.clear(Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS, pair)

    async def _account_of(self, uow: UnitOfWork, user_id: UserId) -> tuple[User, str | None]:
        user = await uow.users.get(user_id)
        stored = await uow.users.password_hash(user_id)
        if user is None or stored is None:
            raise WrongPassword("This account has no password; it signs in another way.")
        return user, stored

    def _first_seen(self, principal: Principal) -> User:
        return User(id=principal.user_id, email=principal.email, created_at=self.clock.now())

    def _session(self, user: User, now: datetime) -> Session:
        issued = self.issuer.issue(user, now)
        return Session(user=user, token=issued.token, expires_at=issued.expires_at)
